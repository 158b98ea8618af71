-- wrk script: Matomo pixel hits from many visitors. A visitor (about four hits) has an
-- X-Forwarded-For address (the benchmark's peer is a trusted proxy) in a /8 block allocated in
-- Europe, so visitors land in thousands of different cities, a user agent from real browsers
-- (tests/data/browsers-sample.txt) and a referrer; each hit has its own page. With
-- LOAD_DELAY_MS set, each connection waits that long between requests (for the half-load
-- latency).
local counter = 0
local agents = {}
local path = os.getenv("UA_FILE") or "tests/data/browsers-sample.txt"
for line in io.lines(path) do
  if #line > 0 then agents[#agents + 1] = line end
  if #agents >= 2000 then break end
end
local referrers = {
  "", "https%3A%2F%2Fwww.google.com%2F", "https%3A%2F%2Fduckduckgo.com%2F", "https%3A%2F%2Fwww.qwant.com%2F",
  "https%3A%2F%2Fmastodon.social%2F%40someone", "https%3A%2F%2Fnews.ycombinator.com%2Fitem%3Fid%3D1",
  "https%3A%2F%2Fexample.org%2Farticles%2F1",
}
local blocks = {
  2, 5, 31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95,
  109, 176, 178, 185, 188, 193, 194, 195, 212, 213, 217,
}
local pause = tonumber(os.getenv("LOAD_DELAY_MS") or "0")

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  counter = tonumber(seed or 0) * 1000
end

function delay()
  return pause
end

request = function()
  counter = counter + 1
  -- A visitor (one address, one browser) makes about four hits, on different pages.
  local visitor = math.floor(counter / 4)
  local page = counter % 500
  local path = "/matomo.php?idsite=1&rec=1&rand=" .. counter ..
    "&url=https%3A%2F%2Fexample.org%2Farticles%2F" .. page ..
    "&action_name=Article%20" .. page ..
    "&urlref=" .. referrers[(visitor % #referrers) + 1]
  local headers = {}
  headers["User-Agent"] = agents[(visitor % #agents) + 1]
  headers["X-Forwarded-For"] = blocks[(visitor % #blocks) + 1] .. "." .. ((visitor * 7) % 256) .. "." ..
    ((visitor * 13) % 256) .. "." .. (visitor % 251)
  return wrk.format("GET", path, headers)
end
