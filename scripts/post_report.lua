-- wrk script: POST one pothole report per request.
-- wrk -t1 -c32 -d30s -s scripts/post_report.lua http://127.0.0.1:18080/open311/v2/requests.json
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "service_code=pothole&lat=43.05&long=-76.15&attribute%5Bsize%5D=medium&attribute%5Bin_traffic_lane%5D=yes&description=Load+test&email=load%40example.org"
