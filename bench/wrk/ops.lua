-- One operation of bench/wrk_bench.py, for wrk:
--   wrk -t2 -c16 -d10s -s bench/wrk/ops.lua http://127.0.0.1:PORT -- OP N SEED THREADS
-- OP: read | list_status | list_own | search | search_none | suggest | create | reply |
--     status | ceiling_read | ceiling_insert.   N: the number of seeded tickets (ids 1..N).
-- The bearer token and the content type come as wrk -H headers. done() prints one JSON line.
local threads = {}
local op, n, seed, nthreads
local counter = 0

local words = {"fattura", "elettronica", "invio", "errore", "stampa", "registro", "magazzino",
  "inventario", "certificato", "dominio", "hosting", "pagamento", "bonifico", "disdetta",
  "factura", "servidor", "invoice", "printer", "backup", "password", "login", "export"}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  op = args[1]
  n = tonumber(args[2])
  seed = tonumber(args[3] or "1")
  nthreads = tonumber(args[4] or "2")
  math.randomseed(seed * 7919 + (tid or 0) * 104729 + os.time())
end

local function word()
  return words[math.random(#words)]
end

-- Seeded ticket g has status index 1 + g % 7: 0 open, 1 in_progress, 3 waiting_third_party,
-- 4 improvement take replies that move nothing; 1 (in_progress) is moved by "status".
local replyable = {0, 1, 3, 4}

request = function()
  counter = counter + 1
  if op == "read" then
    return wrk.format("GET", "/api/v1/tickets/" .. math.random(n))
  elseif op == "list_status" then
    return wrk.format("GET", "/api/v1/tickets?status=open")
  elseif op == "list_own" then
    return wrk.format("GET", "/api/v1/tickets")
  elseif op == "search" then
    return wrk.format("GET", "/api/v1/tickets?q=" .. word() .. "%20" .. word())
  elseif op == "search_none" then
    return wrk.format("GET", "/api/v1/tickets?q=zanzibar" .. math.random(1000000))
  elseif op == "suggest" then
    return wrk.format("POST", "/api/v1/kb/suggest", nil,
      '{"subject": "Errore ' .. word() .. ' ' .. word() .. '", "description": "Non riesco a completare ' .. word() .. ' da stamattina."}')
  elseif op == "create" then
    return wrk.format("POST", "/api/v1/tickets", nil,
      '{"customer_code": "C7", "type": "technical", "subject": "Problema ' .. word() .. ' ' .. counter ..
      '", "description": "Da stamattina ' .. word() .. ' e ' .. word() .. ' non funzionano."}')
  elseif op == "reply" then
    local id = 7 * math.random(0, math.floor(n / 7) - 1) + replyable[math.random(4)]
    if id < 1 then id = 1 end
    return wrk.format("POST", "/api/v1/tickets/" .. id .. "/replies", nil,
      '{"body": "Abbiamo verificato ' .. word() .. ': provi ora ' .. word() .. '.", "visibility": "public"}')
  elseif op == "status" then
    -- Each thread walks its own in_progress tickets (reset between rounds); a walk that
    -- comes round again (a small database, a fast server) moves them back, and so on.
    local m = math.floor(n / 7)
    local step = (counter - 1) * nthreads + (tid or 0)
    local k = step % m
    local target = (math.floor(step / m) % 2 == 0) and "waiting_third_party" or "in_progress"
    return wrk.format("POST", "/api/v1/tickets/" .. (7 * k + 1) .. "/status", nil,
      '{"status": "' .. target .. '"}')
  elseif op == "ceiling_read" then
    return wrk.format("GET", "/items/" .. math.random(n))
  elseif op == "ceiling_insert" then
    return wrk.format("POST", "/items", nil,
      '{"customer_id": 7, "subject": "Problema ' .. word() .. '", "description": "Da stamattina ' .. word() .. ' non funziona."}')
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
