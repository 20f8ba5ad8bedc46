package catalog_test

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"miaohui/catalog"
)

// mediaFile reads the file a media URL names.
func mediaFile(t *testing.T, k *kit, url string) ([]byte, error) {
	t.Helper()
	return os.ReadFile(filepath.Join(k.svc.MediaDir(), filepath.FromSlash(strings.TrimPrefix(url, "/media/"))))
}

func TestImageSizes(t *testing.T) {
	t.Run("PhotoGetsThumbnailAndMedium", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("花灯", 2000, 1))
		img, err := k.svc.AddImage(k.ctx, w.merchant, p.ID, jpegBytes(t, 1200, 900))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			url           string
			width, height int
		}{{img.ThumbURL, 320, 240}, {img.MediumURL, 800, 600}, {img.URL, 1200, 900}} {
			raw, err := mediaFile(t, k, c.url)
			if err != nil {
				t.Fatalf("%s: %v", c.url, err)
			}
			cfg, format, err := image.DecodeConfig(bytes.NewReader(raw))
			if err != nil || format != "jpeg" || cfg.Width != c.width || cfg.Height != c.height {
				t.Errorf("%s: %s %dx%d (%v), want jpeg %dx%d", c.url, format, cfg.Width, cfg.Height, err, c.width, c.height)
			}
		}
		want := img.ThumbURL + " 320w, " + img.MediumURL + " 800w, " + img.URL + " 1200w"
		if img.SrcSet != want {
			t.Errorf("srcset %q, want %q", img.SrcSet, want)
		}
		// The product read back names the same copies.
		got, _, err := k.svc.Product(k.ctx, catalog.Actor{}, p.ID)
		if err != nil || len(got.Images) != 1 || got.Images[0].ThumbURL != img.ThumbURL || got.Images[0].SrcSet != want {
			t.Fatalf("product images %+v, %v", got, err)
		}

		if err := k.svc.RemoveImage(k.ctx, w.merchant, p.ID, img.ID); err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{img.URL, img.ThumbURL, img.MediumURL} {
			if _, err := mediaFile(t, k, u); !os.IsNotExist(err) {
				t.Errorf("%s left after removal (%v)", u, err)
			}
		}
	})

	t.Run("SmallPictureKeptAsIs", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("剪纸", 2000, 1))
		img, err := k.svc.AddImage(k.ctx, w.merchant, p.ID, pngBytes(t, 300, 200))
		if err != nil {
			t.Fatal(err)
		}
		if img.ThumbURL != img.URL || img.MediumURL != img.URL || img.SrcSet != "" {
			t.Errorf("a 300 px picture: thumb %q, medium %q, srcset %q; want the picture itself, no srcset", img.ThumbURL, img.MediumURL, img.SrcSet)
		}
		entries, _ := os.ReadDir(filepath.Join(k.svc.MediaDir(), "products"))
		if len(entries) != 1 {
			t.Errorf("%d files stored, want the picture alone", len(entries))
		}
	})

	t.Run("PNGStaysPNG", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("年画", 2000, 1))
		img, err := k.svc.AddImage(k.ctx, w.merchant, p.ID, pngBytes(t, 900, 300))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := mediaFile(t, k, img.ThumbURL)
		if err != nil {
			t.Fatal(err)
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(raw))
		if err != nil || format != "png" || cfg.Width != 320 || cfg.Height != 106 {
			t.Errorf("thumbnail %s %dx%d (%v), want png 320x106", format, cfg.Width, cfg.Height, err)
		}
	})
}
