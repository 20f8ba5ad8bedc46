package app

import (
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"miaohui/app/ops"
	"miaohui/catalog"
)

// What one flash-sale purchase costs the server itself, next to the
// references of `fair bench flash` (a bare Fiber handler; one EVALSHA of the
// admission script against the same Redis), each request handed straight to
// the Fiber handler in this process: no network, no load generator sharing
// the cores. `fair bench flash` measures the same paths end to end.
//
//	go test ./app -run '^$' -bench Flash -benchtime 3s
//	TEST_REDIS_URL=redis://127.0.0.1:6379/0 go test ./app -run '^$' -bench Flash   # a real Redis

// benchTokens signs n buyers' bearer tokens the way sign-in does; the
// purchase path checks their signature, not the database.
func benchTokens(e *testEnv, n int) []string {
	exp := e.clock.Now().Add(24 * time.Hour)
	tokens := make([]string, n)
	for i := range tokens {
		_, tokens[i] = e.srv.Accounts.NewSession(catalog.NewID(), catalog.NewID(), catalog.RoleShopper, e.clock.Now(), exp)
	}
	return tokens
}

// benchPoster sends POST path with a buyer's token and {"quantity":1} to a
// Fiber handler, reusing one request context.
type benchPoster struct {
	h    fasthttp.RequestHandler
	req  fasthttp.Request
	ctx  fasthttp.RequestCtx
	addr net.Addr
	path string
}

func newBenchPoster(h fasthttp.RequestHandler, path string) *benchPoster {
	return &benchPoster{h: h, path: path, addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 40000}}
}

func (p *benchPoster) post(token string) int {
	p.req.Reset()
	p.req.Header.SetMethod(fasthttp.MethodPost)
	p.req.SetRequestURI(p.path)
	p.req.Header.SetContentType(fiber.MIMEApplicationJSON)
	p.req.Header.Set(fiber.HeaderAuthorization, "Bearer "+token)
	p.req.SetBodyString(`{"quantity":1}`)
	p.ctx.Init(&p.req, p.addr, nil)
	p.h(&p.ctx)
	return p.ctx.Response.StatusCode()
}

// benchNoLimits turns the per-buyer and per-address limits off, as for `fair
// bench flash`: every request here comes from one address.
func benchNoLimits(c *Config) { c.FlashUserRPS, c.FlashIPRPS = 0, 0 }

func BenchmarkFlashPurchase(b *testing.B) {
	e := newTestEnv(b, benchNoLimits)
	w := newFlashWorld(b, e, "bench-flash")
	big := e.createProduct(b, w.merchA.Token, w.stallA, goods("走马灯", flashProductPrice, catalog.MaxFlashQuantity))["id"].(string)
	h := e.srv.app.Handler()

	// After sell-out: every buyer is answered sold_out from memory.
	b.Run("sold_out", func(b *testing.B) {
		id := w.liveSale(b, 1200, 1, 1)
		tokens := benchTokens(e, 10_000)
		p := newBenchPoster(h, "/api/v1/flash-sales/"+id+"/purchase")
		if code := p.post(tokens[0]); code != http.StatusAccepted {
			b.Fatalf("the first buyer got %d", code)
		}
		for _, t := range tokens[1:] { // every token verified once, as after a sell-out
			p.post(t)
		}
		b.ResetTimer()
		for i := range b.N {
			if code := p.post(tokens[i%len(tokens)]); code != http.StatusConflict {
				b.Fatalf("after sell-out: %d", code)
			}
		}
	})

	// Before sell-out: a new buyer each time, admitted by one EVALSHA; one
	// request at a time, then as many at once as the test's -cpu allows
	// (64 per CPU), as a burst keeps Redis busy.
	admit := func(b *testing.B, parallel bool) {
		body := w.saleBody(1200, b.N, 1) // enough for every buyer of this round
		body["product_id"] = big
		id := w.createSale(b, body)["id"].(string)
		e.clock.Advance(time.Minute + time.Second)
		tokens := benchTokens(e, b.N)
		path := "/api/v1/flash-sales/" + id + "/purchase"
		b.ResetTimer()
		if !parallel {
			p := newBenchPoster(h, path)
			for i := range b.N {
				if code := p.post(tokens[i]); code != http.StatusAccepted {
					b.Fatalf("buyer %d: %d", i, code)
				}
			}
			return
		}
		var next atomic.Int64
		b.SetParallelism(64)
		b.RunParallel(func(pb *testing.PB) {
			p := newBenchPoster(h, path)
			for pb.Next() {
				i := next.Add(1) - 1
				if code := p.post(tokens[i]); code != http.StatusAccepted {
					b.Errorf("buyer %d: %d", i, code)
					return
				}
			}
		})
	}
	b.Run("admitted", func(b *testing.B) { admit(b, false) })
	b.Run("admitted_parallel", func(b *testing.B) { admit(b, true) })
}

// BenchmarkFlashReference is the references' side of the comparison.
func BenchmarkFlashReference(b *testing.B) {
	e := newTestEnv(b, benchNoLimits)
	tokens := benchTokens(e, 10_000)
	for _, ref := range []struct {
		name    string
		handler fiber.Handler
	}{{"bare", ops.BareHandler()}, {"evalsha", ops.EvalHandler(e.redis.Client)}} {
		app := fiber.New(fiber.Config{DisableStartupMessage: true})
		app.Post("/ref", ref.handler)
		b.Run(ref.name, func(b *testing.B) {
			p := newBenchPoster(app.Handler(), "/ref")
			for i := range b.N {
				if code := p.post(tokens[i%len(tokens)]); code != http.StatusAccepted {
					b.Fatal(fmt.Sprintf("%s: %d", ref.name, code))
				}
			}
		})
		if ref.name != "evalsha" {
			continue
		}
		b.Run(ref.name+"_parallel", func(b *testing.B) {
			var next atomic.Int64
			b.SetParallelism(64)
			b.RunParallel(func(pb *testing.PB) {
				p := newBenchPoster(app.Handler(), "/ref")
				for pb.Next() {
					if code := p.post(tokens[int(next.Add(1))%len(tokens)]); code != http.StatusAccepted {
						b.Errorf("%s: %d", ref.name, code)
						return
					}
				}
			})
		})
	}
}
