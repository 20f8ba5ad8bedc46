package catalog

import (
	"bytes"
	"context"
	"image"
	_ "image/gif"  // decoders for image.DecodeConfig
	_ "image/jpeg" //
	_ "image/png"  //
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/uptrace/bun"
	_ "golang.org/x/image/webp" // WebP decoder
)

// Image limits.
const (
	MaxImageBytes     = 2 << 20 // 2 MiB
	MaxImagesPerItem  = 6
	maxImageDimension = 8000
)

var imageTypes = map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif"}

// Image is a product photo stored under the data directory and served at URL.
type Image struct {
	bun.BaseModel `bun:"table:product_images"`

	ID          string    `bun:",pk" json:"id"`
	ProductID   string    `json:"-"`
	File        string    `json:"-"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	CreatedAt   time.Time `json:"created_at"`
	URL         string    `bun:"-" json:"url"`
}

// withURLs fills the URL each image is served at, and turns nil into an
// empty list for JSON.
func withURLs(imgs []Image) []Image {
	if imgs == nil {
		return []Image{}
	}
	for i := range imgs {
		imgs[i].URL = "/media/" + imgs[i].File
	}
	return imgs
}

// AddImage stores an uploaded photo of the merchant's own product. The bytes
// must be a JPEG, PNG, WebP or GIF image (checked by content, not by name) of
// at most 2 MiB; a product holds at most six.
func (s *Service) AddImage(ctx context.Context, a Actor, productID string, data []byte) (*Image, error) {
	if len(data) == 0 {
		return nil, Invalid("image", "is required")
	}
	if len(data) > MaxImageBytes {
		return nil, Invalid("image", "must be at most 2 MiB")
	}
	ctype := http.DetectContentType(data)
	ext, ok := imageTypes[ctype]
	if !ok {
		return nil, Invalid("image", "must be a JPEG, PNG, WebP or GIF image")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || "image/"+format != ctype && !(format == "jpeg" && ctype == "image/jpeg") {
		return nil, Invalid("image", "is not a readable image")
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxImageDimension || cfg.Height > maxImageDimension {
		return nil, Invalid("image", "must be between 1 and 8000 pixels on each side")
	}
	img := &Image{ID: NewID(), ProductID: productID, ContentType: ctype, Size: int64(len(data)), Width: cfg.Width, Height: cfg.Height, CreatedAt: s.now()}
	img.File = "products/" + img.ID + ext
	path := filepath.Join(s.mediaDir, filepath.FromSlash(img.File))
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, _, err := s.ownProduct(ctx, tx, a, productID); err != nil {
			return err
		}
		// Uploads to one product take turns, so the count below stays true.
		var locked string
		if err := ForUpdate(tx.NewSelect().Model((*Product)(nil)).Column("id").Where("id = ?", productID)).Scan(ctx, &locked); err != nil {
			return err
		}
		n, err := tx.NewSelect().Model((*Image)(nil)).Where("product_id = ?", productID).Count(ctx)
		if err != nil {
			return err
		}
		if n >= MaxImagesPerItem {
			return Failf(ErrConflict, "a product holds at most %d images", MaxImagesPerItem)
		}
		if _, err := tx.NewInsert().Model(img).Exec(ctx); err != nil {
			return err
		}
		// The file is written last inside the transaction: if it fails the
		// row is rolled back; if the commit fails the file is removed below.
		return writeFileAtomic(path, data)
	})
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	img.URL = "/media/" + img.File
	return img, nil
}

// RemoveImage deletes a photo of the merchant's own product.
func (s *Service) RemoveImage(ctx context.Context, a Actor, productID, imageID string) error {
	var img Image
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, _, err := s.ownProduct(ctx, tx, a, productID); err != nil {
			return err
		}
		if err := tx.NewSelect().Model(&img).Where("id = ? AND product_id = ?", imageID, productID).Scan(ctx); err != nil {
			return notFound(err, "image")
		}
		_, err := tx.NewDelete().Model(&img).WherePK().Exec(ctx)
		return err
	})
	if err != nil {
		return err
	}
	os.Remove(filepath.Join(s.mediaDir, filepath.FromSlash(img.File)))
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
