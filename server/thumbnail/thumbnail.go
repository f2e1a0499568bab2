// Package thumbnail owns the small JPEG previews of image attachments
// served at /api/v1/message/{ID}/part/{PartID}/thumb: Mailpit's 180x120,
// the image scaled to cover the box and centre-cropped, or, when it is
// smaller than the box, centred on white without being enlarged.
//
// Attachments are attacker-controlled, so an image is decoded only after
// its header (image.DecodeConfig) declares at most MaxPixels pixels: a
// few-kilobyte PNG that declares 100000x100000 pixels is refused before a
// byte of raster is allocated. A Maker also lets only a few decodes run at
// once, so many requests cannot multiply the memory one may use.
//
// It decodes JPEG, PNG, GIF (its first frame) and WebP, scales with
// golang.org/x/image/draw, and imports nothing of mailsink.
package thumbnail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"

	_ "image/gif" // registered for image.Decode
	_ "image/png"

	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp"
)

// Width and Height are the size of every thumbnail, Mailpit's.
const (
	Width  = 180
	Height = 120
)

// MaxPixels is the largest image (width times height, as its header
// declares it) that is decoded: 40 megapixels, 160 MB as RGBA, enough for
// any photo a phone takes. Larger images get the blank thumbnail.
const MaxPixels = 40_000_000

// ErrTooLarge says an image declares more than MaxPixels pixels.
var ErrTooLarge = errors.New("image too large to decode")

// Maker makes thumbnails, at most a few at a time. The zero value is not
// usable: call New.
type Maker struct {
	slots chan struct{}
}

// New returns a Maker that decodes at most parallel images at once
// (at least 1).
func New(parallel int) *Maker {
	return &Maker{slots: make(chan struct{}, max(parallel, 1))}
}

// Result is a thumbnail: always a Width x Height JPEG. Blank is set when
// it is the blank white image that stands for a part that is not an image
// mailsink can decode, with Reason saying why.
type Result struct {
	JPEG   []byte
	Blank  bool
	Reason string
}

// Make returns the thumbnail of data, an attachment's decoded content.
// Like Mailpit, anything that is not a decodable image within the limits
// yields the blank thumbnail rather than an error, so a page showing
// thumbnails always gets an image; Reason says why. The error is only for
// ctx ending while waiting for a turn, or a failure to encode.
func (mk *Maker) Make(ctx context.Context, data []byte) (Result, error) {
	select {
	case mk.slots <- struct{}{}:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	defer func() { <-mk.slots }()

	img, err := decode(data)
	if err != nil {
		out, encErr := encode(canvas())
		return Result{JPEG: out, Blank: true, Reason: err.Error()}, encErr
	}
	out, err := encode(fitted(img))
	return Result{JPEG: out}, err
}

// Blank returns the blank thumbnail, for parts that are not images.
func Blank() ([]byte, error) { return encode(canvas()) }

// decode reads one image, refusing one that declares more than MaxPixels.
func decode(data []byte) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not a decodable image: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%s image of %dx%d pixels", format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, fmt.Errorf("%s image of %dx%d pixels: %w (limit %d pixels)", format, cfg.Width, cfg.Height, ErrTooLarge, MaxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("corrupt %s image: %w", format, err)
	}
	return img, nil
}

// fitted places src in a Width x Height white canvas: scaled to cover it
// and centre-cropped when src is at least that large both ways, otherwise
// scaled down (never up) to fit and centred.
func fitted(src image.Image) image.Image {
	b := src.Bounds()
	sw, sh := float64(b.Dx()), float64(b.Dy())
	scaleW, scaleH := Width/sw, Height/sh
	dst := canvas()
	if b.Dx() >= Width && b.Dy() >= Height {
		scale := max(scaleW, scaleH)
		// The part of src that, scaled, covers the canvas exactly.
		cw, ch := int(Width/scale+0.5), int(Height/scale+0.5)
		x0, y0 := b.Min.X+(b.Dx()-cw)/2, b.Min.Y+(b.Dy()-ch)/2
		crop := image.Rect(x0, y0, x0+cw, y0+ch).Intersect(b)
		xdraw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, crop, xdraw.Over, nil)
		return dst
	}
	scale := min(scaleW, scaleH, 1)
	w, h := max(int(sw*scale+0.5), 1), max(int(sh*scale+0.5), 1)
	at := image.Rect((Width-w)/2, (Height-h)/2, (Width-w)/2+w, (Height-h)/2+h)
	if scale == 1 {
		draw.Draw(dst, at, src, b.Min, draw.Over)
	} else {
		xdraw.ApproxBiLinear.Scale(dst, at, src, b, xdraw.Over, nil)
	}
	return dst
}

func canvas() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	return img
}

func encode(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 75}); err != nil {
		return nil, fmt.Errorf("encoding the thumbnail: %w", err)
	}
	return buf.Bytes(), nil
}
