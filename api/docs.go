package api

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
)

//go:embed openapi.json
var openAPIDocument []byte

// docsFiles is the interactive documentation: Swagger UI, embedded and
// gzip-compressed, so /docs works with no network at all.
//
//go:embed docs/index.html docs/init.js docs/swagger-ui-bundle.js.gz docs/swagger-ui.css.gz
var docsFiles embed.FS

// The docs page loads scripts and styles from this server only.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"

func openAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(openAPIDocument)
}

func docsPage(c *fiber.Ctx) error {
	page, _ := docsFiles.ReadFile("docs/index.html")
	c.Set(fiber.HeaderContentSecurityPolicy, docsCSP)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Send(page)
}

var docsTypes = map[string]string{
	"init.js":              "text/javascript; charset=utf-8",
	"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
	"swagger-ui.css":       "text/css; charset=utf-8",
}

func docsAsset(c *fiber.Ctx) error {
	name := c.Params("asset")
	typ, ok := docsTypes[name]
	if !ok {
		return fiber.ErrNotFound
	}
	c.Set(fiber.HeaderContentType, typ)
	c.Set(fiber.HeaderContentSecurityPolicy, docsCSP)
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	if raw, err := docsFiles.ReadFile("docs/" + name); err == nil {
		return c.Send(raw)
	}
	gz, err := docsFiles.ReadFile("docs/" + name + ".gz")
	if err != nil {
		return fiber.ErrNotFound
	}
	c.Vary(fiber.HeaderAcceptEncoding)
	if strings.Contains(c.Get(fiber.HeaderAcceptEncoding), "gzip") {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		return c.Send(gz)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return err
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		return err
	}
	return c.Send(plain)
}
