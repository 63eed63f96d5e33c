-- wrk script: the expensive reads a planner's dashboard or a scraper sends, in a mix.
-- Half of the statistics carry a window that changes with every request, so the cache
-- cannot answer them and they are computed afresh.
-- wrk -t2 -c128 -d30s -s scripts/heavy_reads.lua http://127.0.0.1:18392
local paths = {
  "/api/v1/stats",
  "/api/v1/stats?group_by=ward",
  "/api/v1/wards",
  "/api/v1/stats/weekly",
  "/api/v1/segments?format=geojson&page_size=1000",
  "/api/v1/reports?format=geojson&page_size=1000",
  "/api/v1/issues?page_size=1000",
  "/open311/v2/requests.json?page_size=1000",
}
local n = 0
request = function()
  n = n + 1
  local path
  if n % 4 == 0 then
    -- A window of its own: a day that shifts with every request.
    local day = 1 + (n % 28)
    path = string.format("/api/v1/stats?reported_after=2025-01-%02dT00:00:00Z", day)
  else
    path = paths[1 + (n % #paths)]
  end
  return wrk.format("GET", path)
end
