//! Photos: decoded in full and re-encoded, so what Upkeep stores and serves is pixels
//! and nothing else. A file that only starts like an image, a decompression bomb or a
//! polyglot is refused; EXIF (with the GPS position of the resident's phone, often their
//! home), comments and any other metadata are dropped, unless the resident agreed to
//! keep the photo's location.

use super::Upload;
use crate::db::media::MediaRow;
use crate::domain::FieldError;
use chrono::NaiveDateTime;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use sha2::{Digest, Sha256};
use std::io::Cursor;

/// The largest side accepted, in pixels (a 50-megapixel camera is about 8,700).
const MAX_SIDE_PX: u32 = 12_000;
/// The most memory one decode may take, in bytes.
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;
/// JPEG quality of re-encoded photos: visually lossless for street photos.
const JPEG_QUALITY: u8 = 85;

/// A photo ready to store.
pub(super) struct Photo {
    bytes: Vec<u8>,
    content_type: &'static str,
}

impl Photo {
    pub(super) fn into_row(self, at: NaiveDateTime) -> MediaRow {
        let sha256 = Sha256::digest(&self.bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let extension = self.content_type.rsplit('/').next().unwrap_or("bin");
        MediaRow {
            id: format!("{}.{extension}", uuid::Uuid::new_v4().simple()),
            content_type: self.content_type.to_owned(),
            size_bytes: i32::try_from(self.bytes.len()).unwrap_or(i32::MAX),
            sha256,
            bytes: self.bytes,
            created_at: at,
        }
    }
}

/// A checked photo as a row to store (staff uploads use it too; their photos are
/// public, so their metadata always goes).
pub fn photo_row(upload: Upload, at: NaiveDateTime) -> Result<MediaRow, FieldError> {
    check(upload).map(|photo| photo.into_row(at))
}

fn refused(why: impl std::fmt::Display) -> FieldError {
    FieldError::new("media", why.to_string())
}

/// Reads the upload as an image (its type told by its bytes, not by what the client
/// claims) and, unless `keep_location` was agreed, writes it again: JPEG as JPEG, the
/// others as PNG (a GIF keeps its first frame), turned upright by its EXIF orientation.
/// CPU-bound: call it off the async workers.
pub(super) fn check(upload: Upload) -> Result<Photo, FieldError> {
    let format = match image::guess_format(&upload.bytes) {
        Ok(
            format @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Gif | ImageFormat::WebP),
        ) => format,
        _ => return Err(refused("is not a JPEG, PNG, GIF or WebP image")),
    };
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE_PX);
    limits.max_image_height = Some(MAX_SIDE_PX);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = ImageReader::with_format(Cursor::new(&upload.bytes[..]), format);
    reader.limits(limits);
    let unreadable = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => refused(format!(
            "is too large an image: at most {MAX_SIDE_PX} pixels a side"
        )),
        e => refused(format!("could not be read as an image: {e}")),
    };
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let orientation = decoder.orientation().map_err(unreadable)?;
    let mut pixels = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    if upload.keep_location {
        // The resident agreed to share where the photo was taken: the file is kept as
        // sent, now that it is known to be a whole image.
        return Ok(Photo {
            bytes: upload.bytes,
            content_type: format.to_mime_type(),
        });
    }
    pixels.apply_orientation(orientation);
    let mut bytes = Vec::new();
    let content_type = if format == ImageFormat::Jpeg {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY);
        // JPEG has no alpha channel.
        DynamicImage::ImageRgb8(pixels.to_rgb8())
            .write_with_encoder(encoder)
            .map_err(|e| refused(format!("could not be re-encoded: {e}")))?;
        "image/jpeg"
    } else {
        pixels
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .map_err(|e| refused(format!("could not be re-encoded: {e}")))?;
        "image/png"
    };
    Ok(Photo {
        bytes,
        content_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(format: ImageFormat, width: u32, height: u32) -> Vec<u8> {
        let pixels = DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 5) as u8, 90])
        }));
        let mut bytes = Vec::new();
        pixels
            .write_to(&mut Cursor::new(&mut bytes), format)
            .expect("encoded");
        bytes
    }

    /// `jpeg` with an EXIF segment (APP1) carrying `secret` right after its start marker.
    fn with_exif(jpeg: &[u8], secret: &str) -> Vec<u8> {
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend_from_slice(secret.as_bytes());
        let length = u16::try_from(payload.len() + 2).unwrap();
        let mut bytes = jpeg[..2].to_vec();
        bytes.extend_from_slice(&[0xFF, 0xE1]);
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes.extend_from_slice(&payload);
        bytes.extend_from_slice(&jpeg[2..]);
        bytes
    }

    fn upload(bytes: Vec<u8>, keep_location: bool) -> Upload {
        Upload {
            bytes,
            keep_location,
        }
    }

    #[test]
    fn a_jpeg_is_re_encoded_without_its_exif_unless_the_resident_agreed() {
        let original = with_exif(&encoded(ImageFormat::Jpeg, 40, 30), "GPS 43.0481 -76.1474");
        let stored = check(upload(original.clone(), false)).expect("a photo");
        assert_eq!(stored.content_type, "image/jpeg");
        let contains =
            |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
        assert!(!contains(&stored.bytes, b"Exif"));
        assert!(!contains(&stored.bytes, b"43.0481"));
        let again = image::load_from_memory(&stored.bytes).expect("still an image");
        assert_eq!((again.width(), again.height()), (40, 30));

        let kept = check(upload(original.clone(), true)).expect("a photo");
        assert_eq!(
            kept.bytes, original,
            "kept as sent when the resident agreed"
        );
    }

    #[test]
    fn png_gif_and_webp_are_stored_as_png_of_the_same_size() {
        for format in [ImageFormat::Png, ImageFormat::Gif, ImageFormat::WebP] {
            let stored = check(upload(encoded(format, 9, 4), false)).expect("a photo");
            assert_eq!(stored.content_type, "image/png", "{format:?}");
            let again = image::load_from_memory(&stored.bytes).expect("an image");
            assert_eq!((again.width(), again.height()), (9, 4));
        }
    }

    #[test]
    fn a_file_that_only_starts_like_an_image_is_refused() {
        let mut fake = b"\x89PNG\r\n\x1a\n".to_vec();
        fake.extend_from_slice(b"<html><script>alert(1)</script></html>");
        let error = check(upload(fake, false)).err().expect("refused");
        assert_eq!(error.field, "media");
        let truncated = encoded(ImageFormat::Jpeg, 40, 30)[..200].to_vec();
        assert!(
            check(upload(truncated, true)).is_err(),
            "even when kept as sent"
        );
        let html = b"<html>hello</html>".to_vec();
        assert!(check(upload(html, false)).is_err());
    }

    #[test]
    fn an_image_claiming_enormous_sides_is_refused_before_it_is_decoded() {
        // A valid PNG header announcing 100,000 × 100,000 pixels: tens of gigabytes.
        let mut png = encoded(ImageFormat::Png, 1, 1);
        png[16..20].copy_from_slice(&100_000_u32.to_be_bytes());
        png[20..24].copy_from_slice(&100_000_u32.to_be_bytes());
        // The header chunk's checksum (CRC-32 of its type and data), so only its size
        // is wrong.
        let crc = png[12..29].iter().fold(!0_u32, |crc, &byte| {
            (0..8).fold(crc ^ u32::from(byte), |c, _| {
                if c & 1 == 1 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                }
            })
        });
        png[29..33].copy_from_slice(&(!crc).to_be_bytes());
        let error = check(upload(png, false)).err().expect("refused");
        assert!(error.message.contains("too large"), "{}", error.message);
    }
}
