-- wrk script: POST one JPEG to the classify endpoint, over and over.
-- The image path comes from $LOADTEST_IMAGE; an optional script argument
-- stops each wrk thread after that many responses (for fixed-count runs).
local f = assert(io.open(os.getenv("LOADTEST_IMAGE"), "rb"))
local image = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = image
wrk.headers["Content-Type"] = "image/jpeg"

local limit, count = 0, 0

function init(args)
  limit = tonumber(args[1] or "0") or 0
end

function response(status, headers, body)
  count = count + 1
  if limit > 0 and count >= limit then
    wrk.thread:stop()
  end
end
