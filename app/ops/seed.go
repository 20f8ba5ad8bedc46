package ops

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/oklog/ulid/v2"
	"github.com/uptrace/bun"

	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/migrations"
	"miaohui/orders"
)

// `fair seed --scale article` builds one temple fair of the size the article
// describes — 800 stalls, 20,000 products, 80,000 shoppers and 500,000 orders
// worth about ¥200,000,000 over the fair's 30 days — straight into the
// database in batches, with deterministic pseudo-random data (a fixed seed),
// so that the totals, the dashboard and `fair check totals` can be measured
// at that size. It bypasses the services: one password hash is shared by
// every generated merchant and shopper; the organizer's own hash is made
// with the deployment's argon2 cost so that it can sign in.

type seedOpts struct {
	scale    string
	slug     string
	stalls   int
	products int
	shoppers int
	orders   int
	seed     uint64
	days     int
	start    time.Time // the fair's first day, midnight in Asia/Shanghai
}

// seedResult is what the seed wrote, accumulated in Go while generating.
type seedResult struct {
	FairID, Slug             string
	OrganizerEmail, Password string
	Stalls, Products         int
	Shoppers                 int
	Orders                   int
	PaidOrders, Cancelled    int64
	RefundedOrders           int64
	Paid, Refunded, GMV      orders.Money
	Participants             int64
	Elapsed                  time.Duration
}

// seedOrganizer returns the organizer's credentials of a seeded fair; `fair
// bench totals` uses them by default.
func seedOrganizer(slug string) (email, password string) {
	return "organizer@" + slug + ".seed.miaohui.cn", "seed organizer " + slug
}

// Seed is `fair seed`: a fair of the article's size.
func Seed(ctx context.Context, env Env, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(out)
	o := seedOpts{}
	fs.StringVar(&o.scale, "scale", "article", "the size of the fair: article (the flags below override it)")
	fs.StringVar(&o.slug, "slug", "seed-article", "the fair's slug (must be new)")
	fs.IntVar(&o.stalls, "stalls", 800, "stalls (one merchant each)")
	fs.IntVar(&o.products, "products", 20000, "products")
	fs.IntVar(&o.shoppers, "shoppers", 80000, "shoppers")
	fs.IntVar(&o.orders, "orders", 500000, "orders")
	fs.Uint64Var(&o.seed, "seed", 2026, "pseudo-random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.scale != "article" {
		return fmt.Errorf("fair seed: unknown scale %q (article)", o.scale)
	}
	if o.stalls < 1 || o.products < o.stalls || o.shoppers < 1 || o.orders < 1 {
		return errors.New("fair seed: stalls, shoppers and orders must be positive, products at least one per stall")
	}
	o.days = 30
	o.start = time.Date(2026, 2, 10, 0, 0, 0, 0, catalog.FairZone)

	db, err := env.OpenDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	mem, iter := env.PasswordMemoryKiB, env.PasswordIterations
	res, err := seedFair(ctx, db, o, mem, iter, out)
	if err != nil {
		return err
	}
	printSeedResult(out, res)
	return nil
}

func printSeedResult(out io.Writer, r *seedResult) {
	fmt.Fprintf(out, "\nseeded fair %s (%s) in %s\n", r.Slug, r.FairID, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(out, "organizer: %s / password: %s\n", r.OrganizerEmail, r.Password)
	fmt.Fprintf(out, "stalls %d (merchants %d), products %d, shoppers %d, orders %d (%d paid, %d refunded in whole or part, %d cancelled)\n",
		r.Stalls, r.Stalls, r.Products, r.Shoppers, r.Orders, r.PaidOrders, r.RefundedOrders, r.Cancelled)
	fmt.Fprintf(out, "totals: GMV %s (paid %s − refunded %s), paid orders %d, participants %d, average paid order %s\n",
		orders.Yuan(r.GMV), orders.Yuan(r.Paid), orders.Yuan(r.Refunded), r.PaidOrders, r.Participants, orders.Yuan(r.Paid/orders.Money(max(r.PaidOrders, 1))))
}

// seedIDs makes ULIDs from the pseudo-random source: their time part is the
// row's creation time, so they sort as the app's own IDs do.
type seedIDs struct{ r *rand.Rand }

func (g seedIDs) at(t time.Time) string {
	var id ulid.ULID
	if err := id.SetTime(ulid.Timestamp(t)); err != nil {
		panic(err)
	}
	a, b := g.r.Uint64(), g.r.Uint64()
	for i := range 8 {
		id[6+i] = byte(a >> (8 * i))
	}
	id[14], id[15] = byte(b), byte(b>>8)
	return id.String()
}

const seedBatch = 1000

var seedStallWords = []string{"老北京", "天津卫", "泰州", "成都", "西安", "苏州", "景德镇", "潍坊", "佛山", "扬州", "绍兴", "桂林", "福州", "宜兴", "南京", "杭州"}
var seedStallKinds = []string{"糖葫芦", "臭干", "剪纸", "风筝", "面人", "兔儿爷", "绒花", "泥塑", "糖画", "灯笼", "年画", "茶叶", "刺绣", "瓷器", "铜器", "香囊"}

type seedProduct struct {
	id, stallID, title string
	price              orders.Money
	fulfillment        string
	category           string
}

// seedFair writes the fair. Everything but the organizer's password salt is
// a function of o.
func seedFair(ctx context.Context, db *bun.DB, o seedOpts, memKiB, iterations uint32, out io.Writer) (*seedResult, error) {
	t0 := time.Now()
	r := rand.New(rand.NewPCG(o.seed, 0x6d69616f687569)) // "miaohui"
	ids := seedIDs{r}
	start := o.start.UTC()
	end := start.Add(time.Duration(o.days) * 24 * time.Hour)
	created := start.Add(-60 * 24 * time.Hour) // the fair was set up two months before
	const bps = 500

	if n, err := db.NewSelect().TableExpr("fairs").Where("slug = ?", o.slug).Count(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		return nil, fmt.Errorf("fair seed: a fair %q exists already (use --slug)", o.slug)
	}
	res := &seedResult{Slug: o.slug, Stalls: o.stalls, Products: o.products, Shoppers: o.shoppers, Orders: o.orders}
	res.OrganizerEmail, res.Password = seedOrganizer(o.slug)
	orgHash, err := argon2id.CreateHash(res.Password, &argon2id.Params{Memory: memKiB, Iterations: iterations, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		return nil, err
	}
	// One hash for everybody else: nobody signs in as them.
	shared, err := argon2id.CreateHash("seed "+o.slug, &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		return nil, err
	}
	org := account.User{ID: ids.at(created), Email: res.OrganizerEmail, Name: "庙会主办方", Role: catalog.RoleOrganizer, PasswordHash: orgHash, Lang: "zh-CN", CreatedAt: created}
	fair := catalog.Fair{
		ID: ids.at(created), Slug: o.slug, Name: "地坛庙会（压测）", NameEN: "Ditan Temple Fair (load test)",
		Description: "按文章规模生成的庙会数据", DescriptionEN: "A temple fair of the article's size, generated",
		Kind: catalog.KindTempleFair, StartsAt: start, EndsAt: end, CommissionBPS: bps,
		OrganizerID: org.ID, Published: true, CreatedAt: created, UpdatedAt: created,
	}
	res.FairID = fair.ID
	cats := catalog.DefaultCategories(&fair)
	for i := range cats {
		cats[i].ID = ids.at(created)
	}
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(&org).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(&fair).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewInsert().Model(&cats).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fair: %w", err)
	}

	// Merchants, their applications and stalls.
	merchants := make([]account.User, o.stalls)
	apps := make([]catalog.Application, o.stalls)
	stalls := make([]catalog.Stall, o.stalls)
	for i := range o.stalls {
		t := created.Add(time.Duration(i) * time.Minute)
		decided := t.Add(24 * time.Hour)
		merchants[i] = account.User{ID: ids.at(t), Email: fmt.Sprintf("merchant-%d@%s.seed.miaohui.cn", i, o.slug), Name: fmt.Sprintf("摊主%d", i), Role: catalog.RoleMerchant, PasswordHash: shared, Lang: "zh-CN", CreatedAt: t}
		name := fmt.Sprintf("%s%s·%03d", seedStallWords[r.IntN(len(seedStallWords))], seedStallKinds[r.IntN(len(seedStallKinds))], i+1)
		apps[i] = catalog.Application{ID: ids.at(t), FairID: fair.ID, MerchantID: merchants[i].ID, StallName: name, Status: "approved", CreatedAt: t, DecidedAt: &decided}
		stalls[i] = catalog.Stall{ID: ids.at(decided), FairID: fair.ID, MerchantID: merchants[i].ID, ApplicationID: apps[i].ID, Name: name,
			Booth: fmt.Sprintf("%c%03d", 'A'+rune(i/100%26), i%100+1+100*(i/2600)), Status: catalog.StallActive, CreatedAt: decided, UpdatedAt: decided}
	}
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, f := range []func() error{
			func() error { return seedInsertTx(ctx, tx, merchants) },
			func() error { return seedInsertTx(ctx, tx, apps) },
			func() error { return seedInsertTx(ctx, tx, stalls) },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("stalls: %w", err)
	}
	fmt.Fprintf(out, "seed: fair %s, %d stalls (%s)\n", o.slug, o.stalls, time.Since(t0).Round(time.Millisecond))

	// Products: every stall has at least one; prices ¥20–¥450, whole yuan.
	prods := make([]seedProduct, o.products)
	rows := make([]catalog.Product, 0, seedBatch)
	for i := 0; i < o.products; i++ {
		st := &stalls[i%o.stalls]
		if i >= o.stalls {
			st = &stalls[r.IntN(o.stalls)]
		}
		t := st.CreatedAt.Add(time.Duration(1+r.IntN(7*24*60)) * time.Minute)
		p := catalog.Product{
			ID: ids.at(t), FairID: fair.ID, StallID: st.ID, Category: cats[r.IntN(len(cats))].Slug,
			Title:       fmt.Sprintf("%s%s 第%d号", seedStallWords[r.IntN(len(seedStallWords))], seedStallKinds[r.IntN(len(seedStallKinds))], i+1),
			Description: "庙会好物", Price: int64(20+r.IntN(431)) * 100, Currency: catalog.CurrencyCNY,
			Stock: int64(r.IntN(500)), Kind: catalog.KindGoods, Fulfillment: "pickup", Active: true, CreatedAt: t, UpdatedAt: t,
		}
		if r.IntN(10) < 3 {
			p.Fulfillment = "ship"
		}
		prods[i] = seedProduct{id: p.ID, stallID: p.StallID, title: p.Title, price: orders.Money(p.Price), fulfillment: p.Fulfillment, category: p.Category}
		rows = append(rows, p)
		if len(rows) == seedBatch || i == o.products-1 {
			if err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				_, err := tx.NewInsert().Model(&rows).Exec(ctx)
				return err
			}); err != nil {
				return nil, fmt.Errorf("products: %w", err)
			}
			rows = rows[:0]
		}
	}
	// The products went in directly: index them for the search.
	if err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return catalog.RebuildSearchIndex(ctx, tx, fair.ID) }); err != nil {
		return nil, fmt.Errorf("search index: %w", err)
	}
	fmt.Fprintf(out, "seed: %d products (%s)\n", o.products, time.Since(t0).Round(time.Millisecond))

	// Shoppers.
	shoppers := make([]string, o.shoppers)
	users := make([]account.User, 0, seedBatch)
	for i := range o.shoppers {
		t := start.Add(-time.Duration(1+r.IntN(30*24*60)) * time.Minute)
		u := account.User{ID: ids.at(t), Email: fmt.Sprintf("shopper-%d@%s.seed.miaohui.cn", i, o.slug), Name: fmt.Sprintf("游客%d", i), Role: catalog.RoleShopper, PasswordHash: shared, Lang: "zh-CN", CreatedAt: t}
		shoppers[i] = u.ID
		users = append(users, u)
		if len(users) == seedBatch || i == o.shoppers-1 {
			if err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				_, err := tx.NewInsert().Model(&users).Exec(ctx)
				return err
			}); err != nil {
				return nil, fmt.Errorf("shoppers: %w", err)
			}
			users = users[:0]
		}
	}
	fmt.Fprintf(out, "seed: %d shoppers (%s)\n", o.shoppers, time.Since(t0).Round(time.Millisecond))

	// The days' weights: the first days of the new year are the busiest.
	weights := make([]float64, o.days)
	var sum float64
	for d := range weights {
		weights[d] = 1 + 3*math.Exp(-float64(d)/4)
		if wd := o.start.AddDate(0, 0, d).Weekday(); wd == time.Saturday || wd == time.Sunday {
			weights[d] *= 1.3
		}
		sum += weights[d]
	}
	cum := make([]float64, o.days)
	acc := 0.0
	for d, w := range weights {
		acc += w / sum
		cum[d] = acc
	}
	pickDay := func() int {
		u := r.Float64()
		for d, c := range cum {
			if u < c {
				return d
			}
		}
		return o.days - 1
	}

	// Orders, one item and one payment each.
	buyers := make(map[string]struct{}, o.shoppers)
	pays := make([]orders.Payment, 0, seedBatch)
	ords := make([]orders.Order, 0, seedBatch)
	items := make([]orders.Item, 0, seedBatch)
	refunds := make([]orders.Refund, 0, 64)
	flush := func() error {
		return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.NewInsert().Model(&pays).Exec(ctx); err != nil {
				return err
			}
			if _, err := tx.NewInsert().Model(&ords).Exec(ctx); err != nil {
				return err
			}
			if _, err := tx.NewInsert().Model(&items).Exec(ctx); err != nil {
				return err
			}
			if len(refunds) > 0 {
				if _, err := tx.NewInsert().Model(&refunds).Exec(ctx); err != nil {
					return err
				}
			}
			return nil
		})
	}
	code := make([]byte, 8)
	nprod := float64(o.products)
	for i := range o.orders {
		// A skewed choice of product: some stalls sell far more than others.
		p := &prods[min(int(nprod*math.Pow(r.Float64(), 1.6)), o.products-1)]
		buyer := shoppers[r.IntN(o.shoppers)]
		qty := 1
		switch q := r.IntN(10); {
		case q >= 8:
			qty = 3
		case q >= 5:
			qty = 2
		}
		total := p.price * orders.Money(qty)
		// Shoppers buy between 09:00 and 21:00, Beijing time.
		day := o.start.AddDate(0, 0, pickDay())
		createdAt := day.Add(9*time.Hour + time.Duration(r.Int64N(int64(12*time.Hour-15*time.Minute)))).UTC().Truncate(time.Microsecond)
		paidAt := createdAt.Add(time.Duration(10+r.IntN(300)) * time.Second)
		fee, share := orders.Commission(total, bps)
		pay := orders.Payment{ID: ids.at(createdAt), BuyerID: buyer, FairID: fair.ID, Provider: "sandbox", Status: orders.PaymentSucceeded,
			Amount: total, Currency: catalog.CurrencyCNY, ExpiresAt: createdAt.Add(15 * time.Minute), CreatedAt: createdAt, UpdatedAt: paidAt}
		pay.ProviderRef = "sbx_" + pay.ID
		ord := orders.Order{ID: ids.at(createdAt), PaymentID: pay.ID, FairID: fair.ID, StallID: p.stallID, BuyerID: buyer,
			Fulfillment: p.fulfillment, Subtotal: total, Total: total, Currency: catalog.CurrencyCNY, PlatformFee: fee, MerchantShare: share,
			CreatedAt: createdAt, ExpiresAt: pay.ExpiresAt}
		if p.fulfillment == "pickup" {
			for k := range code {
				code[k] = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"[r.IntN(31)]
			}
			ord.PickupCode = string(code)
		} else {
			ord.ShippingAddress = fmt.Sprintf("北京市东城区地坛路%d号", 1+r.IntN(200))
		}
		switch u := r.IntN(1000); {
		case u < 10: // cancelled: never paid
			at := pay.ExpiresAt
			ord.Status, ord.CancelledAt = orders.StatusCancelled, &at
			pay.Status, pay.UpdatedAt = orders.PaymentCancelled, at
			res.Cancelled++
		default:
			ord.PaidAt = &paidAt
			later := paidAt.Add(time.Duration(1+r.IntN(48*60)) * time.Minute)
			switch {
			case u < 200:
				ord.Status = orders.StatusPaid
			case p.fulfillment == "ship":
				ord.Status, ord.ShippedAt, ord.Tracking = orders.StatusShipped, &later, fmt.Sprintf("SF%012d", r.Int64N(1e12))
			default:
				ord.Status, ord.RedeemedAt = orders.StatusRedeemed, &later
			}
			if u >= 970 { // 3 % refunded: half in whole, half in part
				amount := total
				ord.Status = orders.StatusRefunded
				if u >= 985 && total > 1 {
					amount = 1 + r.Int64N(int64(total)-1)
					ord.Status = orders.StatusPartiallyRefunded
				}
				ord.Refunded = amount
				refunds = append(refunds, orders.Refund{ID: ids.at(later), OrderID: ord.ID, PaymentID: pay.ID, Amount: amount,
					Reason: "顾客申请退款", Status: "succeeded", ProviderRef: "sbx_re_" + ord.ID, CreatedBy: buyer, CreatedAt: later, UpdatedAt: later})
				res.RefundedOrders++
			}
			res.PaidOrders++
			res.Paid += total
			res.Refunded += ord.Refunded
			buyers[buyer] = struct{}{}
		}
		pays = append(pays, pay)
		ords = append(ords, ord)
		items = append(items, orders.Item{ID: ids.at(createdAt), OrderID: ord.ID, ProductID: p.id, Title: p.title, Kind: catalog.KindGoods,
			UnitPrice: p.price, Quantity: qty, LineTotal: total, Category: p.category})
		if len(ords) == seedBatch || i == o.orders-1 {
			if err := flush(); err != nil {
				return nil, fmt.Errorf("orders: %w", err)
			}
			pays, ords, items, refunds = pays[:0], ords[:0], items[:0], refunds[:0]
			if n := i + 1; n%50000 == 0 || n == o.orders {
				fmt.Fprintf(out, "seed: %d/%d orders (%s)\n", n, o.orders, time.Since(t0).Round(time.Millisecond))
			}
		}
	}
	res.GMV = res.Paid - res.Refunded
	res.Participants = int64(len(buyers))
	// The orders were written straight into the tables: sum them into the rollups.
	t1 := time.Now()
	if err := orders.RebuildRollups(ctx, db, fair.ID); err != nil {
		return nil, fmt.Errorf("rollups: %w", err)
	}
	fmt.Fprintf(out, "seed: rollups built (%s)\n", time.Since(t1).Round(time.Millisecond))
	if err := catalog.RecountSold(ctx, db, fair.ID); err != nil { // the search ranks by it
		return nil, fmt.Errorf("units sold: %w", err)
	}
	if migrations.IsPostgres(db) {
		_, _ = db.ExecContext(ctx, "ANALYZE")
	} else {
		_, _ = db.ExecContext(ctx, "PRAGMA optimize")
	}
	res.Elapsed = time.Since(t0)
	return res, nil
}

func seedInsertTx[T any](ctx context.Context, tx bun.Tx, rows []T) error {
	for i := 0; i < len(rows); i += seedBatch {
		part := rows[i:min(i+seedBatch, len(rows))]
		if _, err := tx.NewInsert().Model(&part).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}
