-- wrk script: every request searches for words no earlier request asked for, so that no
-- cache (the app's search misses, the database's) can answer it. The URL's query is
-- kept and one more word appended: `q=zq` becomes `q=zq+2x17` (thread 2, request 17).
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

local sent = 0

function request()
  sent = sent + 1
  return wrk.format(nil, wrk.path .. "+" .. thread_number .. "x" .. sent)
end
