package ops

import (
	"bytes"
	"hash/fnv"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math"

	"golang.org/x/image/vector"
)

// pictureSize is the side of a demo product picture, in pixels: large
// enough for the storefront's medium size, drawn once at seed time.
const pictureSize = 800

// demoPicture draws a product's picture for the demo: a paper-cut (剪纸)
// style emblem of its category on a warm ground, varied by its title so no
// two products look alike. It returns a JPEG.
func demoPicture(title, category string) []byte {
	h := fnv.New32a()
	h.Write([]byte(title))
	seed := h.Sum32()
	p := newPainter(pictureSize)
	ground := groundOf(category)
	shift := float64(seed%40) - 20
	p.gradient(hsl(ground.h+shift, ground.s, 0.93), hsl(ground.h+shift, ground.s, 0.80))
	p.lattice(hsl(ground.h+shift, ground.s*0.8, 0.72), int(seed>>8)%3)
	s := float64(pictureSize)
	cx, cy := s/2+float64(int(seed>>12)%41-20), s/2+float64(int(seed>>16)%41-20)
	accent := hsl(float64((seed>>20)%360), 0.55, 0.5)
	switch category {
	case "food":
		p.buns(cx, cy, accent, int(seed>>4)%3+2)
	case "produce":
		p.fruits(cx, cy, seed)
	case "crafts":
		p.flower(cx, cy, color.RGBA{0xc8, 0x1e, 0x1e, 0xff}, int(seed>>6)%4+6)
	case "culture":
		p.lantern(cx, cy)
	case "residential":
		p.house(cx, cy, accent)
	default:
		p.flower(cx, cy, accent, 8)
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, p.img, &jpeg.Options{Quality: 82}); err != nil {
		panic(err) // encoding into memory does not fail
	}
	return out.Bytes()
}

type hue struct{ h, s float64 }

// groundOf is the background tone of a category.
func groundOf(category string) hue {
	switch category {
	case "food":
		return hue{30, 0.7}
	case "produce":
		return hue{95, 0.45}
	case "crafts":
		return hue{5, 0.6}
	case "culture":
		return hue{45, 0.65}
	case "residential":
		return hue{205, 0.45}
	}
	return hue{20, 0.5}
}

type painter struct {
	img *image.RGBA
	z   *vector.Rasterizer
}

func newPainter(size int) *painter {
	return &painter{img: image.NewRGBA(image.Rect(0, 0, size, size)), z: vector.NewRasterizer(size, size)}
}

// fill paints the path drawn by path in c.
func (p *painter) fill(c color.Color, path func(z *vector.Rasterizer)) {
	b := p.img.Bounds()
	p.z.Reset(b.Dx(), b.Dy())
	path(p.z)
	p.z.Draw(p.img, b, image.NewUniform(c), image.Point{})
}

func (p *painter) gradient(top, bottom color.RGBA) {
	b := p.img.Bounds()
	for y := 0; y < b.Dy(); y++ {
		t := float64(y) / float64(b.Dy()-1)
		c := color.RGBA{mix(top.R, bottom.R, t), mix(top.G, bottom.G, t), mix(top.B, bottom.B, t), 0xff}
		draw.Draw(p.img, image.Rect(0, y, b.Dx(), y+1), image.NewUniform(c), image.Point{}, draw.Src)
	}
}

// lattice draws a window-lattice (窗格) border in one of a few patterns,
// every tile in one pass of the rasterizer.
func (p *painter) lattice(c color.RGBA, pattern int) {
	s := float32(p.img.Bounds().Dx())
	const step, m = 40, 18
	p.fill(c, func(z *vector.Rasterizer) {
		for x := float32(m); x < s-m; x += step {
			for _, y := range []float32{m, s - m - 14} {
				tile(z, x, y, pattern)
				tile(z, y, x, pattern)
			}
		}
	})
}

func tile(z *vector.Rasterizer, x, y float32, pattern int) {
	switch pattern {
	case 0: // squares
		rect(z, x, y, 14, 14)
	case 1: // diamonds
		z.MoveTo(x+7, y)
		z.LineTo(x+14, y+7)
		z.LineTo(x+7, y+14)
		z.LineTo(x, y+7)
		z.ClosePath()
	default: // dots
		circle(z, x+7, y+7, 7)
	}
}

// buns are steamed buns (包子) in a bowl.
func (p *painter) buns(cx, cy float64, bowl color.RGBA, n int) {
	x, y := float32(cx), float32(cy)
	cream := color.RGBA{0xfb, 0xf3, 0xe4, 0xff}
	shade := color.RGBA{0xe6, 0xd3, 0xb5, 0xff}
	for i := 0; i < n; i++ {
		bx := x + float32(i-(n-1)/2)*110 - float32((n+1)%2)*55
		by := y - 70 - float32(i%2)*30
		p.fill(shade, func(z *vector.Rasterizer) { ellipse(z, bx, by+8, 78, 62) })
		p.fill(cream, func(z *vector.Rasterizer) { ellipse(z, bx, by, 74, 58) })
		p.fill(shade, func(z *vector.Rasterizer) { circle(z, bx, by-44, 10) })
	}
	p.fill(bowl, func(z *vector.Rasterizer) {
		z.MoveTo(x-230, y+10)
		z.CubeTo(x-220, y+250, x+220, y+250, x+230, y+10)
		z.ClosePath()
	})
	p.fill(darker(bowl), func(z *vector.Rasterizer) { ellipse(z, x, y+12, 232, 26) })
	p.fill(color.RGBA{0xf5, 0xd0, 0x6a, 0xff}, func(z *vector.Rasterizer) { rect(z, x-150, y+90, 300, 16) })
}

// fruits are a few round fruits with a leaf.
func (p *painter) fruits(cx, cy float64, seed uint32) {
	x, y := float32(cx), float32(cy)
	colours := []color.RGBA{{0xf2, 0xa9, 0x2c, 0xff}, {0xe3, 0x5d, 0x3b, 0xff}, {0xc9, 0xb0, 0x3a, 0xff}, {0x8c, 0xb3, 0x4a, 0xff}}
	spots := [][3]float32{{-110, 40, 110}, {110, 50, 105}, {0, -60, 120}}
	for i, sp := range spots {
		c := colours[(int(seed)+i)%len(colours)]
		p.fill(darker(c), func(z *vector.Rasterizer) { circle(z, x+sp[0]+6, y+sp[1]+8, sp[2]) })
		p.fill(c, func(z *vector.Rasterizer) { circle(z, x+sp[0], y+sp[1], sp[2]) })
		p.fill(color.NRGBA{0xff, 0xff, 0xff, 0x60}, func(z *vector.Rasterizer) { circle(z, x+sp[0]-sp[2]/3, y+sp[1]-sp[2]/3, sp[2]/5) })
	}
	p.fill(color.RGBA{0x3f, 0x8a, 0x3a, 0xff}, func(z *vector.Rasterizer) {
		z.MoveTo(x+20, y-170)
		z.QuadTo(x+140, y-260, x+190, y-190)
		z.QuadTo(x+100, y-130, x+20, y-170)
		z.ClosePath()
	})
}

// flower is a paper-cut flower of n petals.
func (p *painter) flower(cx, cy float64, c color.RGBA, n int) {
	x, y := float32(cx), float32(cy)
	p.fill(color.RGBA{0xfd, 0xf6, 0xec, 0xff}, func(z *vector.Rasterizer) { circle(z, x, y, 270) })
	for i := 0; i < n; i++ {
		a := 2 * math.Pi * float64(i) / float64(n)
		p.fill(c, func(z *vector.Rasterizer) { petal(z, x, y, a, 240, 70) })
	}
	p.fill(color.RGBA{0xfd, 0xf6, 0xec, 0xff}, func(z *vector.Rasterizer) { circle(z, x, y, 70) })
	p.fill(c, func(z *vector.Rasterizer) { circle(z, x, y, 44) })
}

// lantern is a red lantern (灯笼) with gold caps and a tassel.
func (p *painter) lantern(cx, cy float64) {
	x, y := float32(cx), float32(cy)
	gold := color.RGBA{0xe8, 0xb9, 0x3c, 0xff}
	red := color.RGBA{0xd0, 0x24, 0x1c, 0xff}
	p.fill(gold, func(z *vector.Rasterizer) { rect(z, x-4, y-300, 8, 80) })
	p.fill(gold, func(z *vector.Rasterizer) { rect(z, x-90, y-235, 180, 40) })
	p.fill(gold, func(z *vector.Rasterizer) { rect(z, x-90, y+195, 180, 40) })
	p.fill(red, func(z *vector.Rasterizer) { ellipse(z, x, y, 230, 210) })
	p.fill(darker(red), func(z *vector.Rasterizer) { ellipse(z, x, y, 120, 210) })
	p.fill(red, func(z *vector.Rasterizer) { ellipse(z, x, y, 40, 210) })
	for i := -2; i <= 2; i++ {
		tx := x + float32(i)*14
		p.fill(gold, func(z *vector.Rasterizer) { rect(z, tx-3, y+235, 6, 90) })
	}
}

// house is a home with a roof, windows and a sun.
func (p *painter) house(cx, cy float64, roof color.RGBA) {
	x, y := float32(cx), float32(cy)
	p.fill(color.RGBA{0xf6, 0xc3, 0x4a, 0xff}, func(z *vector.Rasterizer) { circle(z, x+200, y-220, 60) })
	p.fill(color.RGBA{0xfb, 0xf7, 0xf0, 0xff}, func(z *vector.Rasterizer) { rect(z, x-190, y-40, 380, 270) })
	p.fill(roof, func(z *vector.Rasterizer) {
		z.MoveTo(x-240, y-30)
		z.LineTo(x, y-230)
		z.LineTo(x+240, y-30)
		z.ClosePath()
	})
	glass := color.RGBA{0x7f, 0xb5, 0xd9, 0xff}
	for _, wx := range []float32{-140, 60} {
		p.fill(glass, func(z *vector.Rasterizer) { rect(z, x+wx, y+10, 80, 70) })
	}
	p.fill(darker(roof), func(z *vector.Rasterizer) { rect(z, x-40, y+110, 80, 120) })
}

// Paths.

func rect(z *vector.Rasterizer, x, y, w, h float32) {
	z.MoveTo(x, y)
	z.LineTo(x+w, y)
	z.LineTo(x+w, y+h)
	z.LineTo(x, y+h)
	z.ClosePath()
}

func circle(z *vector.Rasterizer, x, y, r float32) { ellipse(z, x, y, r, r) }

// ellipse draws an ellipse of radii rx, ry with four cubic Béziers.
func ellipse(z *vector.Rasterizer, x, y, rx, ry float32) {
	const k = 0.5523
	z.MoveTo(x+rx, y)
	z.CubeTo(x+rx, y+k*ry, x+k*rx, y+ry, x, y+ry)
	z.CubeTo(x-k*rx, y+ry, x-rx, y+k*ry, x-rx, y)
	z.CubeTo(x-rx, y-k*ry, x-k*rx, y-ry, x, y-ry)
	z.CubeTo(x+k*rx, y-ry, x+rx, y-k*ry, x+rx, y)
	z.ClosePath()
}

// petal draws a pointed petal from (x, y) outwards at angle a.
func petal(z *vector.Rasterizer, x, y float32, a float64, length, width float32) {
	at := func(along, across float32) (float32, float32) {
		c, s := float32(math.Cos(a)), float32(math.Sin(a))
		return x + along*c - across*s, y + along*s + across*c
	}
	z.MoveTo(at(0, 0))
	x1, y1 := at(length*0.4, width)
	x2, y2 := at(length, 0)
	z.QuadTo(x1, y1, x2, y2)
	x3, y3 := at(length*0.4, -width)
	z.QuadTo(x3, y3, x, y)
	z.ClosePath()
}

// Colours.

func mix(a, b uint8, t float64) uint8 { return uint8(float64(a)*(1-t) + float64(b)*t) }

func darker(c color.RGBA) color.RGBA {
	return color.RGBA{uint8(float64(c.R) * 0.78), uint8(float64(c.G) * 0.78), uint8(float64(c.B) * 0.78), c.A}
}

// hsl converts a hue in degrees, saturation and lightness to RGB.
func hsl(h, s, l float64) color.RGBA {
	h = math.Mod(math.Mod(h, 360)+360, 360) / 360
	f := func(n float64) uint8 {
		k := math.Mod(n+h*12, 12)
		a := s * math.Min(l, 1-l)
		v := l - a*math.Max(-1, math.Min(math.Min(k-3, 9-k), 1))
		return uint8(math.Round(v * 255))
	}
	return color.RGBA{f(0), f(8), f(4), 0xff}
}
