-- The peer comparison of bench/peer.py: django-helpdesk's REST API, for wrk:
--   wrk -t2 -c16 -d10s -s bench/wrk/peer.lua http://127.0.0.1:PORT -- OP N SEED
-- OP: peer_create | peer_read | peer_reply.   N: the number of seeded tickets (ids 1..N).
-- The token ("Authorization: Token ...") and the content type come as wrk -H headers.
-- The same words and sizes as ops.lua's create and reply; done() prints one JSON line.
local op, n, seed
local counter = 0

local words = {"fattura", "elettronica", "invio", "errore", "stampa", "registro", "magazzino",
  "inventario", "certificato", "dominio", "hosting", "pagamento", "bonifico", "disdetta",
  "factura", "servidor", "invoice", "printer", "backup", "password", "login", "export"}

function init(args)
  op = args[1]
  n = tonumber(args[2])
  seed = tonumber(args[3] or "1")
  math.randomseed(seed * 7919 + os.time())
end

local function word()
  return words[math.random(#words)]
end

request = function()
  counter = counter + 1
  if op == "peer_create" then
    return wrk.format("POST", "/api/tickets/", nil,
      '{"queue": 1, "title": "Problema ' .. word() .. ' ' .. word() .. ' ' .. counter ..
      '", "description": "Da stamattina ' .. word() .. ' e ' .. word() .. ' non funzionano.", ' ..
      '"submitter_email": "c7@example.com", "priority": 3}')
  elseif op == "peer_read" then
    return wrk.format("GET", "/api/tickets/" .. math.random(n) .. "/")
  elseif op == "peer_reply" then
    -- Seeded tickets are open (1) or reopened (2): a follow-up that moves nothing.
    return wrk.format("POST", "/api/followups/", nil,
      '{"ticket": ' .. math.random(n) .. ', "title": "Risposta", "comment": "Abbiamo verificato ' ..
      word() .. ': provi ora ' .. word() .. '.", "public": true}')
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
