package catalog_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
)

// Uploads are decoded and encoded afresh, within pixel limits read from the
// header: what is stored carries no metadata of the upload's.

// pngChunk is one PNG chunk of kind with data, its CRC included.
func pngChunk(kind string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(kind)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(kind), data...)))
	return b.Bytes()
}

// pngHeader is a PNG signature and IHDR of a w×h RGB picture, and nothing
// else: enough for its size to be read, with no pixels to back it.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // 8 bits, RGB, deflate, no filter, no interlace
	return append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr)...)
}

// withTextChunk puts a tEXt chunk right after a PNG's IHDR.
func withTextChunk(t *testing.T, p []byte, text string) []byte {
	t.Helper()
	const afterIHDR = 8 + 8 + 13 + 4
	out := append([]byte{}, p[:afterIHDR]...)
	out = append(out, pngChunk("tEXt", []byte("Comment\x00"+text))...)
	return append(out, p[afterIHDR:]...)
}

// jpegBytes is a w×h JPEG whose left half is red and right half blue.
func jpegBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{R: 220, G: 20, B: 20, A: 255}
			if x >= w/2 {
				c = color.RGBA{R: 20, G: 20, B: 220, A: 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withExif puts an APP1 EXIF segment right after a JPEG's SOI marker: a
// little-endian TIFF whose first IFD holds the orientation and an ASCII
// note (as a camera's model or GPS text would be).
func withExif(t *testing.T, j []byte, orientation uint16, note string) []byte {
	t.Helper()
	le := binary.LittleEndian
	tiff := []byte("II*\x00")
	tiff = le.AppendUint32(tiff, 8) // the IFD follows the header
	tiff = le.AppendUint16(tiff, 2) // two entries
	tiff = le.AppendUint16(tiff, 0x0112)
	tiff = le.AppendUint16(tiff, 3) // SHORT
	tiff = le.AppendUint32(tiff, 1)
	tiff = le.AppendUint16(tiff, orientation)
	tiff = le.AppendUint16(tiff, 0)
	text := append([]byte(note), 0)
	tiff = le.AppendUint16(tiff, 0x010F) // Make
	tiff = le.AppendUint16(tiff, 2)      // ASCII
	tiff = le.AppendUint32(tiff, uint32(len(text)))
	tiff = le.AppendUint32(tiff, uint32(8+2+2*12+4)) // after the IFD
	tiff = le.AppendUint32(tiff, 0)                  // no next IFD
	tiff = append(tiff, text...)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := []byte{0xFF, 0xE1}
	app1 = binary.BigEndian.AppendUint16(app1, uint16(len(seg)+2))
	app1 = append(app1, seg...)
	out := append([]byte{}, j[:2]...)
	out = append(out, app1...)
	return append(out, j[2:]...)
}

// stored reads the file an image was stored in.
func stored(t *testing.T, k *kit, img *catalog.Image) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(k.svc.MediaDir(), filepath.FromSlash(strings.TrimPrefix(img.URL, "/media/"))))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(raw)) != img.Size {
		t.Errorf("size %d, the file has %d bytes", img.Size, len(raw))
	}
	return raw
}

func TestImageReencoded(t *testing.T) {
	t.Run("PNGTextChunkAndTrailer", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("花灯", 2000, 1))
		up := withTextChunk(t, pngBytes(t, 3, 2), "GPS 32.4555N 119.9229E")
		up = append(up, "<script>alert(1)</script>"...) // hidden after the picture
		if _, err := png.Decode(bytes.NewReader(up)); err != nil {
			t.Fatalf("the crafted upload is no PNG: %v", err)
		}
		img, err := k.svc.AddImage(k.ctx, w.merchant, p.ID, up)
		if err != nil {
			t.Fatal(err)
		}
		raw := stored(t, k, img)
		if bytes.Equal(raw, up) {
			t.Fatal("the upload was stored byte for byte")
		}
		for _, leak := range []string{"tEXt", "GPS", "<script>"} {
			if bytes.Contains(raw, []byte(leak)) {
				t.Errorf("stored file still holds %q", leak)
			}
		}
		got, err := png.Decode(bytes.NewReader(raw))
		if err != nil || img.ContentType != "image/png" || got.Bounds().Dx() != 3 || got.Bounds().Dy() != 2 {
			t.Fatalf("stored %s %v, %v; want a 3×2 PNG", img.ContentType, got.Bounds(), err)
		}
		if r, _, _, a := got.At(0, 0).RGBA(); r>>8 != 200 || a>>8 != 255 {
			t.Errorf("pixel (0,0) is %v, want the upload's", got.At(0, 0))
		}
	})
	t.Run("JPEGExif", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("花灯", 2000, 1))
		up := withExif(t, jpegBytes(t, 16, 8), 1, "SecretCam 9000")
		if _, err := jpeg.Decode(bytes.NewReader(up)); err != nil {
			t.Fatalf("the crafted upload is no JPEG: %v", err)
		}
		img, err := k.svc.AddImage(k.ctx, w.merchant, p.ID, up)
		if err != nil {
			t.Fatal(err)
		}
		raw := stored(t, k, img)
		if bytes.Equal(raw, up) {
			t.Fatal("the upload was stored byte for byte")
		}
		for _, leak := range []string{"Exif", "SecretCam"} {
			if bytes.Contains(raw, []byte(leak)) {
				t.Errorf("stored file still holds %q", leak)
			}
		}
		if _, err := jpeg.Decode(bytes.NewReader(raw)); err != nil || img.ContentType != "image/jpeg" || img.Width != 16 || img.Height != 8 {
			t.Fatalf("stored %s %d×%d, %v; want a 16×8 JPEG", img.ContentType, img.Width, img.Height, err)
		}
	})
	t.Run("JPEGOrientation", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("花灯", 2000, 1))
		// Stored sideways, as a phone holds a portrait photo: orientation 6
		// says turn it a quarter right, so the red left half becomes the top.
		img, err := k.svc.AddImage(k.ctx, w.merchant, p.ID, withExif(t, jpegBytes(t, 32, 16), 6, "phone"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := jpeg.Decode(bytes.NewReader(stored(t, k, img)))
		if err != nil || img.Width != 16 || img.Height != 32 || got.Bounds().Dx() != 16 || got.Bounds().Dy() != 32 {
			t.Fatalf("stored %d×%d (%v), %v; want 16×32", img.Width, img.Height, got.Bounds(), err)
		}
		if r, _, b, _ := got.At(8, 4).RGBA(); r>>8 < 150 || b>>8 > 100 {
			t.Errorf("top is %v, want red", got.At(8, 4))
		}
		if r, _, b, _ := got.At(8, 27).RGBA(); b>>8 < 150 || r>>8 > 100 {
			t.Errorf("bottom is %v, want blue", got.At(8, 27))
		}
	})
	t.Run("GIFBecomesPNG", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("花灯", 2000, 1))
		pal := image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.Black, color.White})
		var b bytes.Buffer
		if err := gif.Encode(&b, pal, nil); err != nil {
			t.Fatal(err)
		}
		img, err := k.svc.AddImage(k.ctx, w.merchant, p.ID, b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(bytes.NewReader(stored(t, k, img))); err != nil || img.ContentType != "image/png" || !strings.HasSuffix(img.URL, ".png") {
			t.Fatalf("stored %s at %s, %v; want a PNG", img.ContentType, img.URL, err)
		}
	})
}

func TestImagePixelLimits(t *testing.T) {
	t.Run("HugeHeaderRefused", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("花灯", 2000, 1))
		for name, data := range map[string][]byte{
			"8000x8000": pngHeader(8000, 8000), // within 8000 on a side, 64 megapixels
			"8001x1":    pngHeader(8001, 1),
			"1x100000":  pngHeader(1, 100000),
		} {
			t.Run(name, func(t *testing.T) {
				_, err := k.svc.AddImage(k.ctx, w.merchant, p.ID, data)
				catalogtest.WantInvalid(t, err, "image")
			})
		}
	})
	t.Run("PhonePhotoAccepted", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("花灯", 2000, 1))
		photo := image.NewYCbCr(image.Rect(0, 0, 4032, 3024), image.YCbCrSubsampleRatio420)
		for i := range photo.Y {
			photo.Y[i] = uint8(i / 4032 / 12)
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, photo, &jpeg.Options{Quality: 80}); err != nil {
			t.Fatal(err)
		}
		if b.Len() > catalog.MaxImageBytes {
			t.Fatalf("the test photo is %d bytes, over the upload limit", b.Len())
		}
		img, err := k.svc.AddImage(k.ctx, w.merchant, p.ID, b.Bytes())
		if err != nil || img.Width != 4032 || img.Height != 3024 || img.ContentType != "image/jpeg" {
			t.Fatalf("AddImage = %+v, %v; want a 4032×3024 JPEG", img, err)
		}
	})
}
