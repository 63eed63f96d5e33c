-- wrk script for the soak: a mix of reads and writes, each connection pausing between
-- requests so the whole stays near the rate asked for (see scripts/soak.sh).
-- Three in ten are new reports; the rest read one report, a page of issues near a
-- point, the statistics and the health check.
local pause_ms = tonumber(os.getenv("SOAK_PAUSE_MS") or "10")
local n = 0
local report = "service_code=pothole&lat=43.05&long=-76.15&attribute%5Bsize%5D=small" ..
  "&attribute%5Bin_traffic_lane%5D=no&description=Soak+test"

request = function()
  n = n + 1
  local pick = n % 10
  if pick < 3 then
    return wrk.format("POST", "/open311/v2/requests.json",
      { ["Content-Type"] = "application/x-www-form-urlencoded" }, report)
  elseif pick < 6 then
    return wrk.format("GET", "/open311/v2/requests/" .. (1 + (n * 7919) % 30000) .. ".json")
  elseif pick < 8 then
    return wrk.format("GET", "/api/v1/issues?lat=43.05&lon=-76.15&radius_m=500&page_size=50")
  elseif pick < 9 then
    return wrk.format("GET", "/api/v1/stats")
  else
    return wrk.format("GET", "/health")
  end
end

delay = function()
  return pause_ms
end
