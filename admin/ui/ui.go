// Package ui embeds the admin web UI and the API documentation page into the binary, so one file serves
// everything (as PocketBase does).
package ui

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
)

//go:embed static
var static embed.FS

// Mount serves the admin UI at / and the browsable API docs at /api/docs, with security headers that keep
// the pages from being framed or fed foreign scripts.
func Mount(app *fiber.App) {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic("ui: embedded files missing: " + err.Error()) // the embed directive guarantees the folder
	}
	headers := func(c *fiber.Ctx) error {
		c.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		c.Set("X-Content-Type-Options", "nosniff")
		c.Set("Referrer-Policy", "no-referrer")
		c.Set("X-Frame-Options", "DENY")
		return c.Next()
	}
	app.Use("/api/docs", headers, filesystem.New(filesystem.Config{Root: http.FS(sub), PathPrefix: "docs", Index: "index.html"}))
	app.Use("/", headers, filesystem.New(filesystem.Config{Root: http.FS(sub), PathPrefix: "app", Index: "index.html"}))
}
