-- wrk script: POST one pothole report per request, each at its own point inside a box,
-- so that reports snap to streets all over a city and start or join issues as residents'
-- would (one fixed point would join one issue again and again).
--
--   BOX="west,south,east,north" wrk -t1 -c32 -d20s -s scripts/post_spread.lua \
--     http://127.0.0.1:18080/open311/v2/requests.json
--
-- The points follow a fixed sequence (seeded per thread), so two runs send the same
-- reports.
local west, south, east, north = -76.30, 42.90, -76.00, 43.20

local function parse_box(text)
  local parts = {}
  for number in string.gmatch(text, "[^,]+") do
    parts[#parts + 1] = tonumber(number)
  end
  assert(#parts == 4, "BOX must be west,south,east,north")
  return parts[1], parts[2], parts[3], parts[4]
end

local box = os.getenv("BOX")
if box then
  west, south, east, north = parse_box(box)
end

local counter = 0
local thread_seed = 1

function setup(thread)
  thread:set("thread_seed", thread_seed)
  thread_seed = thread_seed + 1
end

function init(args)
  math.randomseed(thread_seed * 7919)
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

function request()
  counter = counter + 1
  local lat = south + math.random() * (north - south)
  local lon = west + math.random() * (east - west)
  local body = string.format(
    "service_code=pothole&lat=%.6f&long=%.6f&attribute%%5Bsize%%5D=medium" ..
      "&attribute%%5Bin_traffic_lane%%5D=yes&description=Load+test+%d&email=load%d%%40example.org",
    lat, lon, counter, counter % 5000)
  return wrk.format(nil, nil, nil, body)
end
