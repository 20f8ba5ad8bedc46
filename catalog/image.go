package catalog

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/draw"
	_ "image/gif" // GIF decoder
	"image/jpeg"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // WebP decoder
)

// Image limits. The pixel limits are read from the file's header before
// anything is decoded, so a small file that claims a huge picture costs
// nothing: 8000 px on a side and 24 megapixels take a 6000×4000 camera
// photo or a 4032×3024 phone photo, and refuse an 8000×8000 one.
const (
	MaxImageBytes     = 2 << 20 // 2 MiB
	MaxImagesPerItem  = 6
	maxImageDimension = 8000
	maxImagePixels    = 24_000_000
	jpegQuality       = 85
)

// ImageWidths are the smaller copies made of each photo at upload, in
// pixels across: a card in the phone's two-column grid (thumbnail) and the
// product page (medium). A photo narrower than a width gets no copy of it.
// WebP is read but never written: Go has no well-kept pure-Go WebP encoder.
var ImageWidths = []int{320, 800}

// variantFile is where the copy of file at width w is stored:
// products/ID.jpg → products/ID-320.jpg.
func variantFile(file string, w int) string {
	ext := filepath.Ext(file)
	return strings.TrimSuffix(file, ext) + "-" + strconv.Itoa(w) + ext
}

// imageTypes are the formats accepted, by sniffed content type.
var imageTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/webp": true, "image/gif": true}

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
	// ThumbURL and MediumURL are the copies at ImageWidths (the photo itself
	// when it is no wider); SrcSet lists every size for an img srcset, ""
	// when the photo has no copies.
	ThumbURL  string `bun:"-" json:"thumb_url"`
	MediumURL string `bun:"-" json:"medium_url"`
	SrcSet    string `bun:"-" json:"srcset"`
}

// withURLs fills the URLs each image is served at, and turns nil into an
// empty list for JSON.
func withURLs(imgs []Image) []Image {
	if imgs == nil {
		return []Image{}
	}
	for i := range imgs {
		imgs[i].fillURLs()
	}
	return imgs
}

func (img *Image) fillURLs() {
	img.URL = "/media/" + img.File
	var set []string
	urls := make([]string, len(ImageWidths))
	for i, w := range ImageWidths {
		urls[i] = img.URL
		if img.Width > w {
			urls[i] = "/media/" + variantFile(img.File, w)
			set = append(set, urls[i]+" "+strconv.Itoa(w)+"w")
		}
	}
	img.ThumbURL, img.MediumURL = urls[0], urls[1]
	if len(set) > 0 {
		img.SrcSet = strings.Join(append(set, img.URL+" "+strconv.Itoa(img.Width)+"w"), ", ")
	}
}

// AddImage stores an uploaded photo of the merchant's own product. The bytes
// must be a JPEG, PNG, WebP or GIF image (checked by content, not by name) of
// at most 2 MiB and within the pixel limits; a product holds at most six.
// What is stored is never the upload itself but the decoded picture encoded
// afresh (see reencodeImage): no metadata, no trailing bytes, nothing a
// browser could read as anything but an image.
func (s *Service) AddImage(ctx context.Context, a Actor, productID string, data []byte) (*Image, error) {
	// Who may add comes before what is added: nobody else learns how the
	// upload would be judged, and nothing is decoded for them.
	if _, _, err := s.ownProduct(ctx, s.db, a, productID); err != nil {
		return nil, err
	}
	enc, err := checkedUpload(data, "image")
	if err != nil {
		return nil, err
	}
	img := &Image{ID: NewID(), ProductID: productID, ContentType: enc.ctype, Size: int64(len(enc.data)), Width: enc.width, Height: enc.height, CreatedAt: s.now()}
	img.File = "products/" + img.ID + enc.ext
	data = enc.data
	path := filepath.Join(s.mediaDir, filepath.FromSlash(img.File))
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		p, _, err := s.ownProduct(ctx, tx, a, productID)
		if err != nil {
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
		if err := Audit(ctx, tx, img.CreatedAt, a, p.FairID, "product.image_add", productID, map[string]string{"image_id": img.ID}); err != nil {
			return err
		}
		// The files are written last inside the transaction: if one fails
		// the row is rolled back; if the commit fails they are removed below.
		for _, v := range enc.variants {
			if err := writeFileAtomic(filepath.Join(s.mediaDir, filepath.FromSlash(variantFile(img.File, v.width))), v.data); err != nil {
				return err
			}
		}
		return writeFileAtomic(path, data)
	})
	if err != nil {
		s.removeImageFiles(img.File)
		return nil, err
	}
	img.fillURLs()
	return img, nil
}

// RemoveImage deletes a photo of the merchant's own product.
func (s *Service) RemoveImage(ctx context.Context, a Actor, productID, imageID string) error {
	var img Image
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		p, _, err := s.ownProduct(ctx, tx, a, productID)
		if err != nil {
			return err
		}
		if err := tx.NewSelect().Model(&img).Where("id = ? AND product_id = ?", imageID, productID).Scan(ctx); err != nil {
			return notFound(err, "image")
		}
		if _, err := tx.NewDelete().Model(&img).WherePK().Exec(ctx); err != nil {
			return err
		}
		return Audit(ctx, tx, s.now(), a, p.FairID, "product.image_remove", productID, map[string]string{"image_id": img.ID})
	})
	if err != nil {
		return err
	}
	s.removeImageFiles(img.File)
	return nil
}

// removeImageFiles removes a photo's file and its smaller copies.
func (s *Service) removeImageFiles(file string) {
	os.Remove(filepath.Join(s.mediaDir, filepath.FromSlash(file)))
	for _, w := range ImageWidths {
		os.Remove(filepath.Join(s.mediaDir, filepath.FromSlash(variantFile(file, w))))
	}
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

// checkedUpload checks an uploaded image (a JPEG, PNG, WebP or GIF by
// content, at most MaxImageBytes, within the pixel limits; failures name
// field) and encodes it afresh (see reencodeImage).
func checkedUpload(data []byte, field string) (encodedImage, error) {
	if len(data) == 0 {
		return encodedImage{}, Invalid(field, "is required")
	}
	if len(data) > MaxImageBytes {
		return encodedImage{}, Invalid(field, "must be at most 2 MiB")
	}
	ctype := http.DetectContentType(data)
	if !imageTypes[ctype] {
		return encodedImage{}, Invalid(field, "must be a JPEG, PNG, WebP or GIF image")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || "image/"+format != ctype {
		return encodedImage{}, Invalid(field, "is not a readable image")
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxImageDimension || cfg.Height > maxImageDimension ||
		cfg.Width*cfg.Height > maxImagePixels {
		return encodedImage{}, Invalid(field, fmt.Sprintf("must be at most %d pixels on a side and %d megapixels", maxImageDimension, maxImagePixels/1_000_000))
	}
	enc, err := reencodeImage(data, format)
	if err != nil {
		return encodedImage{}, Invalid(field, "is not a readable image")
	}
	return enc, nil
}

// encodedImage is an upload decoded and encoded afresh.
type encodedImage struct {
	data          []byte
	ctype, ext    string
	width, height int
	variants      []imageVariant // the copies at ImageWidths narrower than the photo
}

type imageVariant struct {
	width int
	data  []byte
}

// reencodeImage decodes an upload of format (checked against its header's
// pixel limits already) and encodes the picture again, which leaves every
// metadata segment (EXIF with its GPS position, XMP, comments, colour
// profiles) and any bytes hidden after the picture behind. A JPEG's EXIF
// orientation is applied to the pixels first, so a phone's portrait photo
// stays upright without it. Photos (JPEG, and WebP without transparency)
// become JPEG; PNG and GIF, drawings more often than not, and any picture
// with transparency become PNG. A GIF keeps its first frame.
func reencodeImage(data []byte, format string) (encodedImage, error) {
	pic, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return encodedImage{}, err
	}
	if format == "jpeg" {
		pic = orient(pic, jpegOrientation(data))
	}
	opaque := false
	if o, ok := pic.(interface{ Opaque() bool }); ok {
		opaque = o.Opaque()
	}
	out := encodedImage{ctype: "image/png", ext: ".png"}
	asJPEG := format == "jpeg" || format == "webp" && opaque
	if asJPEG {
		out.ctype, out.ext = "image/jpeg", ".jpg"
	}
	encode := func(pic image.Image) ([]byte, error) {
		var buf bytes.Buffer
		if asJPEG {
			err := jpeg.Encode(&buf, pic, &jpeg.Options{Quality: jpegQuality})
			return buf.Bytes(), err
		}
		err := png.Encode(&buf, pic)
		return buf.Bytes(), err
	}
	if out.data, err = encode(pic); err != nil {
		return encodedImage{}, err
	}
	b := pic.Bounds()
	out.width, out.height = b.Dx(), b.Dy()
	for _, w := range ImageWidths {
		if out.width <= w {
			continue
		}
		h := max(1, out.height*w/out.width)
		small := image.NewNRGBA(image.Rect(0, 0, w, h))
		xdraw.BiLinear.Scale(small, small.Bounds(), pic, b, xdraw.Src, nil)
		data, err := encode(small)
		if err != nil {
			return encodedImage{}, err
		}
		out.variants = append(out.variants, imageVariant{width: w, data: data})
	}
	return out, nil
}

// jpegOrientation is the EXIF orientation (1 to 8) a JPEG's APP1 segment
// gives, or 1 (as stored) when it gives none or cannot be read.
func jpegOrientation(data []byte) int {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return 1
	}
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xFF {
			return 1
		}
		marker := data[i+1]
		if marker == 0xFF { // padding
			i++
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // the picture starts: no EXIF before it
			return 1
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return 1
		}
		seg := data[i+4 : i+2+n]
		if marker == 0xE1 && len(seg) > 6 && string(seg[:6]) == "Exif\x00\x00" {
			return exifOrientation(seg[6:])
		}
		i += 2 + n
	}
	return 1
}

// exifOrientation reads tag 0x0112 of the first IFD of a TIFF structure.
func exifOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	ifd := int(bo.Uint32(tiff[4:]))
	if ifd < 8 || ifd+2 > len(tiff) {
		return 1
	}
	count := int(bo.Uint16(tiff[ifd:]))
	for k := range count {
		e := ifd + 2 + 12*k
		if e+12 > len(tiff) {
			return 1
		}
		if bo.Uint16(tiff[e:]) == 0x0112 && bo.Uint16(tiff[e+2:]) == 3 { // SHORT
			if v := int(bo.Uint16(tiff[e+8:])); v >= 1 && v <= 8 {
				return v
			}
			return 1
		}
	}
	return 1
}

// orient turns a picture stored with EXIF orientation o upright.
func orient(pic image.Image, o int) image.Image {
	if o < 2 || o > 8 {
		return pic
	}
	b := pic.Bounds()
	src := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(src, src.Bounds(), pic, b.Min, draw.Src)
	w, h := b.Dx(), b.Dy()
	dw, dh := w, h
	if o >= 5 { // a quarter turn: the sides swap
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range h {
		for x := range w {
			var dx, dy int
			switch o {
			case 2: // mirrored
				dx, dy = w-1-x, y
			case 3: // upside down
				dx, dy = w-1-x, h-1-y
			case 4: // upside down, mirrored
				dx, dy = x, h-1-y
			case 5: // mirrored along the top-left diagonal
				dx, dy = y, x
			case 6: // turned a quarter left: turn it right
				dx, dy = h-1-y, x
			case 7: // mirrored along the other diagonal
				dx, dy = h-1-y, w-1-x
			case 8: // turned a quarter right: turn it left
				dx, dy = y, w-1-x
			}
			copy(dst.Pix[dst.PixOffset(dx, dy):dst.PixOffset(dx, dy)+4], src.Pix[src.PixOffset(x, y):src.PixOffset(x, y)+4])
		}
	}
	return dst
}
