package ops

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/orders"

	"github.com/uptrace/bun"
)

// DemoPassword is the password of every seeded demo account.
const DemoPassword = "miaohui-demo-2026"

// demoAccounts are the demo's named accounts; each stall's merchant signs in
// as merchant@ (the first stall) or merchant02@, merchant03@… in stall order.
var demoAccounts = []account.NewUser{
	{Email: "organizer@demo.miaohui.cn", Name: "泰州庙会组委会", Role: catalog.RoleOrganizer},
	{Email: "merchant@demo.miaohui.cn", Name: "老街臭干坊", Role: catalog.RoleMerchant},
	{Email: "shopper@demo.miaohui.cn", Name: "小王", Role: catalog.RoleShopper},
}

// merchantEmail is the account of the demo's i-th stall (temple fair stalls
// first, then the developments).
func merchantEmail(i int) string {
	if i == 0 {
		return "merchant@demo.miaohui.cn"
	}
	return fmt.Sprintf("merchant%02d@demo.miaohui.cn", i+1)
}

// DemoAccounts are every account SeedDemo makes (and prints): the organizer,
// the shopper and each stall's merchant, named after the stall.
func DemoAccounts() []account.NewUser {
	out := []account.NewUser{demoAccounts[0], demoAccounts[2]}
	for i, name := range stallNames() {
		out = append(out, account.NewUser{Email: merchantEmail(i), Name: name, Role: catalog.RoleMerchant})
	}
	return out
}

// stallNames are the demo's stalls in merchant order.
func stallNames() []string {
	var names []string
	for _, s := range templeStalls {
		names = append(names, s.name)
	}
	for _, d := range developments {
		names = append(names, d.name)
	}
	return names
}

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

type demoDevelopment struct {
	name, description, address, district string
	units                                []catalog.UnitTypeInput
}

// The property season's 22 developments (楼盘), each selling a deposit
// voucher (认筹券).
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
	{"海陵·望海楼府", "望海楼畔的新中式院落住宅。", "海陵区望海楼路20号", "海陵区", []catalog.UnitTypeInput{
		{Name: "三室两厅", AreaM2: 120, PricePerM2: 1_420_000, UnitsAvailable: 18},
	}},
	{"稻河古街·璟园", "稻河古街旁，青砖黛瓦的现代住宅。", "海陵区稻河路36号", "海陵区", []catalog.UnitTypeInput{
		{Name: "两室两厅", AreaM2: 86, PricePerM2: 1_250_000, UnitsAvailable: 30},
	}},
	{"梅兰春晓", "梅兰芳公园东侧，学区改善盘。", "海陵区梅兰东路15号", "海陵区", []catalog.UnitTypeInput{
		{Name: "三室两厅", AreaM2: 112, PricePerM2: 1_380_000, UnitsAvailable: 26},
	}},
	{"泰州万达·华府", "城东商圈综合体住宅。", "海陵区济川东路99号", "海陵区", []catalog.UnitTypeInput{
		{Name: "三室两厅", AreaM2: 108, PricePerM2: 1_180_000, UnitsAvailable: 40},
	}},
	{"医药城·康桥", "医药高新区人才公寓配套住宅。", "医药高新区陆家路8号", "医药高新区", []catalog.UnitTypeInput{
		{Name: "两室两厅", AreaM2: 92, PricePerM2: 960_000, UnitsAvailable: 44},
	}},
	{"凤栖湖·澜庭", "凤栖湖公园旁的湖居洋房。", "医药高新区凤栖路66号", "医药高新区", []catalog.UnitTypeInput{
		{Name: "四室两厅", AreaM2: 139, PricePerM2: 1_120_000, UnitsAvailable: 16},
	}},
	{"口岸·江韵名都", "高港老街旁的江景高层。", "高港区口岸街道通江路6号", "高港区", []catalog.UnitTypeInput{
		{Name: "三室两厅", AreaM2: 115, PricePerM2: 820_000, UnitsAvailable: 34},
	}},
	{"永安洲·滨江湾", "永安洲镇滨江新城住宅。", "高港区永安洲镇江海路2号", "高港区", []catalog.UnitTypeInput{
		{Name: "两室两厅", AreaM2: 88, PricePerM2: 760_000, UnitsAvailable: 38},
	}},
	{"姜堰·罗塘府", "罗塘河畔的品质住宅。", "姜堰区罗塘路101号", "姜堰区", []catalog.UnitTypeInput{
		{Name: "三室两厅", AreaM2: 118, PricePerM2: 980_000, UnitsAvailable: 22},
	}},
	{"溱湖·水岸花园", "溱湖景区旁的花园洋房。", "姜堰区溱湖大道58号", "姜堰区", []catalog.UnitTypeInput{
		{Name: "三室两厅", AreaM2: 126, PricePerM2: 1_060_000, UnitsAvailable: 14},
	}},
	{"兴化·千垛花园", "兴化城区千垛菜花主题社区。", "兴化市英武路18号", "兴化市", []catalog.UnitTypeInput{
		{Name: "三室两厅", AreaM2: 110, PricePerM2: 780_000, UnitsAvailable: 36},
	}},
	{"兴化·昭阳湖畔", "昭阳湖公园旁的改善住宅。", "兴化市昭阳湖路9号", "兴化市", []catalog.UnitTypeInput{
		{Name: "四室两厅", AreaM2: 140, PricePerM2: 860_000, UnitsAvailable: 12},
	}},
	{"靖江·牧城壹号", "靖江城中心的高层住宅。", "靖江市人民路128号", "靖江市", []catalog.UnitTypeInput{
		{Name: "三室两厅", AreaM2: 116, PricePerM2: 1_020_000, UnitsAvailable: 28},
	}},
	{"靖江·长江府", "长江岸线的江景大宅。", "靖江市江平路66号", "靖江市", []catalog.UnitTypeInput{
		{Name: "四室两厅", AreaM2: 150, PricePerM2: 1_160_000, UnitsAvailable: 10},
	}},
	{"泰兴·银杏湾", "银杏之乡的生态社区。", "泰兴市银杏路77号", "泰兴市", []catalog.UnitTypeInput{
		{Name: "三室两厅", AreaM2: 106, PricePerM2: 820_000, UnitsAvailable: 32},
	}},
	{"泰兴·襟江公馆", "襟江小区旁的精装公寓。", "泰兴市襟江路5号", "泰兴市", []catalog.UnitTypeInput{
		{Name: "两室一厅", AreaM2: 72, PricePerM2: 780_000, UnitsAvailable: 40},
	}},
	{"黄桥·古镇雅苑", "黄桥古镇边的低密度住宅。", "泰兴市黄桥镇东进路3号", "泰兴市", []catalog.UnitTypeInput{
		{Name: "三室两厅", AreaM2: 120, PricePerM2: 700_000, UnitsAvailable: 20},
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
	if err := refreshDemo(ctx, s); err != nil {
		return err
	}
	printBanner(out, addr)
	return nil
}

// printBanner tells where the demo is and who can sign in. An address
// without a host listens on every interface: phones on the same network
// reach it at this machine's own addresses.
func printBanner(out io.Writer, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = "", strings.TrimPrefix(addr, ":")
	}
	var urls []string
	if host == "" || host == "0.0.0.0" || host == "::" {
		urls = append(urls, "http://localhost:"+port)
		for _, ip := range lanAddresses() {
			urls = append(urls, "http://"+net.JoinHostPort(ip, port)+"   (手机同一网络 / phones on this network)")
		}
	} else {
		urls = append(urls, "http://"+net.JoinHostPort(host, port))
	}
	fmt.Fprintf(out, "\n  庙会 Miaohui demo\n")
	for _, u := range urls {
		fmt.Fprintf(out, "    %s\n", u)
	}
	fmt.Fprintf(out, "  demo accounts, all with the password %s:\n", DemoPassword)
	for _, a := range DemoAccounts() {
		fmt.Fprintf(out, "    %-10s %-30s %s\n", a.Role, a.Email, a.Name)
	}
	fmt.Fprintf(out, "  flash sales (抢购): %s/fairs/taizhou-temple-fair/flash-sales\n\n", strings.Fields(urls[0])[0])
}

// lanAddresses are this machine's IPv4 addresses other than loopback.
func lanAddresses() []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			out = append(out, n.IP.String())
		}
	}
	return out
}

// refreshDemo keeps an existing demo alive on a later start: fairs that are
// ending are extended, and when no flash sale is on or coming the demo's two
// offers are scheduled again, one a minute away and one an hour away.
func refreshDemo(ctx context.Context, s Demo) error {
	var organizerID string
	err := s.DB.NewSelect().TableExpr("users").Column("id").Where("email = ?", demoAccounts[0].Email).Scan(ctx, &organizerID)
	if err != nil {
		return nil // not the demo's database: nothing to refresh
	}
	organizer := catalog.Actor{UserID: organizerID, Role: catalog.RoleOrganizer}
	now := s.Now()
	until := now.Add(30 * 24 * time.Hour).Truncate(time.Hour)
	for _, slug := range []string{"taizhou-temple-fair", "taizhou-property-season"} {
		f, err := s.Catalog.Fair(ctx, organizer, slug)
		if err != nil {
			continue // removed by its organizer
		}
		if f.EndsAt.Before(now.Add(7 * 24 * time.Hour)) {
			if _, err := s.Catalog.UpdateFair(ctx, organizer, slug, catalog.FairInput{EndsAt: &until}); err != nil {
				return fmt.Errorf("extend %s: %w", slug, err)
			}
		}
	}
	var offers []struct {
		ProductID  string `bun:"product_id"`
		MerchantID string `bun:"merchant_id"`
		Price      int64  `bun:"price"`
		Live       bool   `bun:"live"`
	}
	err = s.DB.NewSelect().TableExpr("flash_sales AS fs").
		Join("JOIN stalls AS st ON st.id = fs.stall_id").
		Join("JOIN fairs AS f ON f.id = fs.fair_id").
		ColumnExpr("fs.product_id, st.merchant_id, fs.price").
		ColumnExpr("(NOT fs.withdrawn AND fs.ends_at > ?) AS live", now).
		Where("f.slug = ?", "taizhou-temple-fair").
		OrderExpr("fs.starts_at").Scan(ctx, &offers)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var again []flashAgain
	for _, o := range offers {
		if o.Live {
			return nil // a sale is on or coming
		}
		if !seen[o.ProductID] {
			seen[o.ProductID] = true
			again = append(again, flashAgain{catalog.Actor{UserID: o.MerchantID, Role: catalog.RoleMerchant}, o.ProductID, o.Price})
		}
	}
	return scheduleFlash(ctx, s, now, again)
}

// flashAgain is a demo flash offer: its product, merchant and flash price.
type flashAgain struct {
	merchant  catalog.Actor
	productID string
	price     int64
}

// scheduleFlash schedules the demo's flash sales: the first a minute after
// now, each next one an hour later, for a day each.
func scheduleFlash(ctx context.Context, s Demo, now time.Time, offers []flashAgain) error {
	for k, f := range offers {
		price, quantity, limit := f.price, 20, 2
		at := now.Add(time.Minute + time.Duration(k)*time.Hour).Truncate(time.Second)
		until := at.Add(24 * time.Hour)
		if _, err := s.Admission.ScheduleSale(ctx, f.merchant, catalog.FlashInput{ProductID: f.productID, Price: &price,
			Quantity: &quantity, PerUserLimit: &limit, StartsAt: &at, EndsAt: &until}); err != nil {
			return fmt.Errorf("flash sale: %w", err)
		}
	}
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

	names := stallNames()
	merchant := func(i int) (catalog.Actor, error) {
		if i == 0 {
			return users[merchantEmail(0)].Actor(), nil
		}
		u, err := s.Accounts.CreateUser(ctx, account.NewUser{Email: merchantEmail(i), Password: DemoPassword, Name: names[i], Role: catalog.RoleMerchant})
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
	var flashes []flashAgain
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
			if _, err := s.Catalog.AddImage(ctx, m, prod.ID, demoPicture(p.title, p.category)); err != nil {
				return fmt.Errorf("%s picture: %w", p.title, err)
			}
			if i < 2 && j == 0 {
				flashes = append(flashes, flashAgain{m, prod.ID, prod.Price / 2})
			}
		}
	}
	// Two flash sales (抢购) at half price: one opens a minute after the demo
	// starts, the next an hour later.
	if err := scheduleFlash(ctx, s, now, flashes); err != nil {
		return err
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
		voucher, err := s.Catalog.CreateProduct(ctx, m, st.ID, catalog.ProductInput{
			Title: &title, Description: &desc, Price: &price, OffsetValue: &offset, ValidUntil: &validUntil,
			Stock: &stock, Kind: &kind, Category: &category,
		})
		if err != nil {
			return err
		}
		if _, err := s.Catalog.AddImage(ctx, m, voucher.ID, demoPicture(d.name, category)); err != nil {
			return fmt.Errorf("%s picture: %w", d.name, err)
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
