-- wrk script: Matomo pixel hits from many visitors. Each request varies the page, the referrer,
-- the X-Forwarded-For address (the benchmark's peer is a trusted proxy) and the user agent,
-- taken from real browsers (tests/data/browsers-sample.txt). With LOAD_DELAY_MS set, each
-- connection waits that long between requests (a fixed rate, for the half-load latency).
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
  local page = counter % 500
  local path = "/matomo.php?idsite=1&rec=1&rand=" .. counter ..
    "&url=https%3A%2F%2Fexample.org%2Farticles%2F" .. page ..
    "&action_name=Article%20" .. page ..
    "&urlref=" .. referrers[(counter % #referrers) + 1]
  local headers = {}
  headers["User-Agent"] = agents[(counter % #agents) + 1]
  headers["X-Forwarded-For"] = "198.51." .. (counter % 256) .. "." .. ((counter * 7) % 256)
  return wrk.format("GET", path, headers)
end
