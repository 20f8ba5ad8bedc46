package ops

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/orders"

	"github.com/uptrace/bun"
)

// DemoPassword is the password of every seeded demo account.
const DemoPassword = "miaohui-demo-2026"

// demoAccounts are the accounts `fair demo` prints; the other merchants of the
// seeded stalls sign in with merchant02… and the same password.
var demoAccounts = []account.NewUser{
	{Email: "organizer@demo.miaohui.cn", Name: "泰州庙会组委会", Role: catalog.RoleOrganizer},
	{Email: "merchant@demo.miaohui.cn", Name: "老街臭干坊", Role: catalog.RoleMerchant},
	{Email: "shopper@demo.miaohui.cn", Name: "小王", Role: catalog.RoleShopper},
}

// DemoAccounts are the accounts SeedDemo prints.
func DemoAccounts() []account.NewUser { return slices.Clone(demoAccounts) }

// DemoSize is how many stalls the demo's temple fair has and how many
// developments its property season lists.
func DemoSize() (stalls, developmentCount int) { return len(templeStalls), len(developments) }

type demoProduct struct {
	title, description, category, fulfillment string
	price, stock                              int64
}

type demoStall struct {
	name, description string
	products          []demoProduct
}

// The temple fair's stalls: local specialities of Taizhou, priced in fen.
var templeStalls = []demoStall{
	{"老街臭干坊", "泰州老街三代传承的臭干，外酥里嫩，闻着臭吃着香。", []demoProduct{
		{"泰州臭干", "手工卤制臭干，一盒十块，现炸更香。", "food", "pickup", 1280, 200},
		{"油炸臭干（配甜辣酱）", "庙会现场现炸，凭取货码到摊位领取。", "food", "pickup", 1500, 150},
	}},
	{"黄桥烧饼铺", "新四军黄桥战役时的支前烧饼，层层起酥。", []demoProduct{
		{"黄桥烧饼", "葱油、肉松、蟹黄三种口味，现烤现卖。", "food", "pickup", 350, 500},
		{"黄桥烧饼礼盒", "二十只装，真空包装，全国包邮。", "food", "ship", 6800, 120},
	}},
	{"靖江汤包馆", "蟹黄汤包皮薄如纸，先开窗后喝汤。", []demoProduct{
		{"靖江蟹黄汤包", "一笼四只，现蒸，摊位取餐。", "food", "pickup", 8800, 80},
		{"蟹黄汤包冷冻装", "十二只装，冷链配送，蒸八分钟即可。", "food", "ship", 16800, 60},
	}},
	{"溱潼鱼饼坊", "溱湖鲜鱼手工捶打，鲜嫩弹牙。", []demoProduct{
		{"溱潼鱼饼", "一斤装，可煎可煮。", "food", "ship", 3600, 100},
	}},
	{"兴化大闸蟹", "兴化湖荡养殖大闸蟹，青背白肚。", []demoProduct{
		{"兴化大闸蟹礼盒", "公蟹四两、母蟹三两各四只，顺丰冷链。", "produce", "ship", 29800, 50},
	}},
	{"大煮干丝", "淮扬名菜，干丝细如发丝。", []demoProduct{
		{"大煮干丝", "鸡汤大煮干丝，摊位堂食。", "food", "pickup", 2800, 120},
	}},
	{"泰兴白果", "泰兴银杏之乡，颗粒饱满。", []demoProduct{
		{"泰兴白果", "一斤装，炒、炖皆宜。", "produce", "ship", 4500, 200},
	}},
	{"姜堰麻虾酱", "姜堰溱湖麻虾酿制，咸鲜下饭。", []demoProduct{
		{"麻虾酱", "两瓶装，每瓶250克。", "produce", "ship", 3900, 150},
	}},
	{"泰州剪纸", "非遗剪纸艺人现场创作。", []demoProduct{
		{"生肖剪纸", "装框剪纸，尺寸30×30厘米。", "crafts", "ship", 5800, 60},
	}},
	{"兴化竹编", "老竹匠手编竹器，结实耐用。", []demoProduct{
		{"竹编果篮", "直径28厘米，可装水果与点心。", "crafts", "pickup", 12000, 40},
	}},
	{"木刻年画社", "传统木版套色年画。", []demoProduct{
		{"木刻年画《五谷丰登》", "手工拓印，宣纸，附收藏证书。", "culture", "ship", 8800, 30},
	}},
	{"溱潼会船文创", "溱潼会船节主题文创。", []demoProduct{
		{"会船纪念徽章", "珐琅徽章一套三枚。", "culture", "ship", 2500, 300},
	}},
}

type flashOffer struct {
	merchant catalog.Actor
	product  *catalog.Product
}

type demoDevelopment struct {
	name, description, address, district string
	units                                []catalog.UnitTypeInput
}

// The property season's developments (楼盘), each selling a deposit voucher.
var developments = []demoDevelopment{
	{"凤城河畔·悦府", "凤城河景观住宅，步行可达老街。", "海陵区凤城河路88号", "海陵区", []catalog.UnitTypeInput{
		{Name: "两室两厅", AreaM2: 89, PricePerM2: 1_280_000, UnitsAvailable: 24},
		{Name: "三室两厅", AreaM2: 118, PricePerM2: 1_320_000, UnitsAvailable: 36},
	}},
	{"天德湖壹号", "湖景改善型住宅，低密度。", "海陵区天德湖路1号", "海陵区", []catalog.UnitTypeInput{
		{Name: "四室两厅", AreaM2: 143, PricePerM2: 1_560_000, UnitsAvailable: 12},
	}},
	{"医药城·未来城", "医药高新区核心，近地铁规划站。", "医药高新区药城大道666号", "医药高新区", []catalog.UnitTypeInput{
		{Name: "三室两厅", AreaM2: 105, PricePerM2: 980_000, UnitsAvailable: 48},
		{Name: "三室两厅（边套）", AreaM2: 125, PricePerM2: 1_010_000, UnitsAvailable: 20},
	}},
	{"高港滨江花园", "长江边的花园洋房。", "高港区滨江路18号", "高港区", []catalog.UnitTypeInput{
		{Name: "三室两厅", AreaM2: 110, PricePerM2: 860_000, UnitsAvailable: 30},
	}},
	{"姜堰溱湖湾", "溱湖湿地旁的度假住宅。", "姜堰区溱湖大道9号", "姜堰区", []catalog.UnitTypeInput{
		{Name: "叠拼别墅", AreaM2: 198, PricePerM2: 1_150_000, UnitsAvailable: 8},
	}},
}

// Demo is what the demo data is made with: the services the server uses.
type Demo struct {
	DB        *bun.DB
	Now       catalog.Clock
	Accounts  *account.Accounts
	Catalog   *catalog.Service
	Admission *orders.Admission
}

// SeedDemo fills an empty database with the demo: the accounts, a temple fair
// with a dozen stalls, and a property season with developments, deposit
// vouchers and viewing slots. It prints how to sign in at addr.
func SeedDemo(ctx context.Context, s Demo, addr string, out io.Writer) error {
	n, err := s.DB.NewSelect().Model((*account.User)(nil)).Count(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		if err := seedDemoData(ctx, s); err != nil {
			return err
		}
	}
	if strings.HasPrefix(addr, ":") {
		addr = "localhost" + addr
	}
	fmt.Fprintf(out, "\n  庙会 Miaohui demo — http://%s\n  demo accounts (password %s):\n", addr, DemoPassword)
	for _, a := range demoAccounts {
		fmt.Fprintf(out, "    %-10s %s\n", a.Role, a.Email)
	}
	fmt.Fprintf(out, "  flash sales (抢购): http://%s/fairs/taizhou-temple-fair/flash-sales\n\n", addr)
	return nil
}

func seedDemoData(ctx context.Context, s Demo) error {
	users := map[string]account.User{}
	for _, a := range demoAccounts {
		a.Password = DemoPassword
		u, err := s.Accounts.CreateUser(ctx, a)
		if err != nil {
			return err
		}
		users[a.Email] = u
	}
	organizer := users["organizer@demo.miaohui.cn"].Actor()
	now := s.Now()
	day := 24 * time.Hour
	start, end := now.Add(-day).Truncate(time.Hour), now.Add(30*day).Truncate(time.Hour)
	str := func(v string) *string { return &v }
	num := func(v int) *int { return &v }

	merchant := func(i int) (catalog.Actor, error) {
		if i == 0 {
			return users["merchant@demo.miaohui.cn"].Actor(), nil
		}
		u, err := s.Accounts.CreateUser(ctx, account.NewUser{Email: fmt.Sprintf("merchant%02d@demo.miaohui.cn", i+1), Password: DemoPassword, Name: fmt.Sprintf("商户%02d", i+1), Role: catalog.RoleMerchant})
		return u.Actor(), err
	}
	openStall := func(m catalog.Actor, slug, name, description string) (*catalog.Stall, error) {
		app, err := s.Catalog.Apply(ctx, m, slug, name, description)
		if err != nil {
			return nil, err
		}
		_, st, err := s.Catalog.Approve(ctx, organizer, app.ID)
		return st, err
	}

	temple, err := s.Catalog.CreateFair(ctx, organizer, catalog.FairInput{
		Slug: str("taizhou-temple-fair"), Name: str("泰州网络庙会"), NameEN: str("Taizhou Online Temple Fair"),
		Description:   str("商家入驻开摊，线上抢购泰州臭干、黄桥烧饼、靖江蟹黄汤包，线下庙会同步参展。"),
		DescriptionEN: str("Merchants open stalls online; shoppers grab Taizhou's local favourites and pick them up at the offline fair."),
		Kind:          str(catalog.KindTempleFair), StartsAt: &start, EndsAt: &end, CommissionBPS: num(500),
	})
	if err != nil {
		return err
	}
	var flashes []flashOffer
	for i, ds := range templeStalls {
		m, err := merchant(i)
		if err != nil {
			return err
		}
		st, err := openStall(m, temple.Slug, ds.name, ds.description)
		if err != nil {
			return err
		}
		for j, p := range ds.products {
			p := p
			kind := catalog.KindGoods
			prod, err := s.Catalog.CreateProduct(ctx, m, st.ID, catalog.ProductInput{
				Title: &p.title, Description: &p.description, Category: &p.category, Fulfillment: &p.fulfillment,
				Price: &p.price, Stock: &p.stock, Kind: &kind,
			})
			if err != nil {
				return fmt.Errorf("%s: %w", p.title, err)
			}
			if i < 2 && j == 0 {
				flashes = append(flashes, flashOffer{m, prod})
			}
		}
	}
	// Two flash sales (抢购): one opens a minute after the demo starts, the
	// next an hour later.
	for k, f := range flashes {
		price, quantity, limit := f.product.Price/2, 20, 2
		at := now.Add(time.Minute + time.Duration(k)*time.Hour).Truncate(time.Second)
		until := at.Add(24 * time.Hour)
		if _, err := s.Admission.ScheduleSale(ctx, f.merchant, catalog.FlashInput{ProductID: f.product.ID, Price: &price,
			Quantity: &quantity, PerUserLimit: &limit, StartsAt: &at, EndsAt: &until}); err != nil {
			return fmt.Errorf("flash sale: %w", err)
		}
	}

	season, err := s.Catalog.CreateFair(ctx, organizer, catalog.FairInput{
		Slug: str("taizhou-property-season"), Name: str("太灵通房产电商购房季"), NameEN: str("Tailingtong Online Home-Buying Season"),
		Description:   str("22个楼盘集中线上展销：在线购买优惠认筹券，到售楼处签约时抵扣房款。"),
		DescriptionEN: str("Housing developments sell discount deposit vouchers online, redeemed at the sales office when you sign."),
		Kind:          str(catalog.KindPropertySeason), StartsAt: &start, EndsAt: &end, CommissionBPS: num(100),
	})
	if err != nil {
		return err
	}
	validUntil := end.Add(30 * day)
	for i, d := range developments {
		m, err := merchant(len(templeStalls) + i)
		if err != nil {
			return err
		}
		st, err := openStall(m, season.Slug, d.name, d.description)
		if err != nil {
			return err
		}
		if _, err := s.Catalog.UpdateStall(ctx, m, st.ID, catalog.StallInput{Address: &d.address, District: &d.district}); err != nil {
			return err
		}
		for _, u := range d.units {
			if _, err := s.Catalog.AddUnitType(ctx, m, st.ID, u); err != nil {
				return err
			}
		}
		title := d.name + " 认筹券：付1万抵5万"
		desc := "在线支付10,000元认筹金，签约时抵扣50,000元房款；每位买家每个楼盘限购一张，核销前可退。"
		price, offset, stock, kind, category := int64(1_000_000), int64(5_000_000), int64(100), catalog.KindVoucher, "residential"
		if _, err := s.Catalog.CreateProduct(ctx, m, st.ID, catalog.ProductInput{
			Title: &title, Description: &desc, Price: &price, OffsetValue: &offset, ValidUntil: &validUntil,
			Stock: &stock, Kind: &kind, Category: &category,
		}); err != nil {
			return err
		}
		for k := 1; k <= 3; k++ {
			day0 := now.In(catalog.FairZone).AddDate(0, 0, k)
			at := time.Date(day0.Year(), day0.Month(), day0.Day(), 10, 0, 0, 0, catalog.FairZone)
			if _, err := s.Catalog.AddSlot(ctx, m, st.ID, catalog.SlotInput{StartsAt: at, EndsAt: at.Add(time.Hour), Capacity: 10}); err != nil {
				return err
			}
		}
	}
	return nil
}
