-- wrk script: Matomo pixel hits with varying pages, referrers and user agents.
local counter = 0
local agents = {
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
}
local referrers = {
  "", "https%3A%2F%2Fwww.google.com%2F", "https%3A%2F%2Fduckduckgo.com%2F", "https%3A%2F%2Fwww.qwant.com%2F",
  "https%3A%2F%2Fmastodon.social%2F%40someone", "https%3A%2F%2Fnews.ycombinator.com%2Fitem%3Fid%3D1",
}

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
