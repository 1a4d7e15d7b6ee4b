package main

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/turnmail/turnmail/mail/tag"
	"github.com/turnmail/turnmail/workflow"
)

// unsubscribePath is where one-click unsubscribe URLs point, followed by
// a signed address token.
const unsubscribePath = "/unsubscribe/"

// unsubscribeHandler serves RFC 8058 one-click unsubscribe: a POST turns the
// person's weekly summaries off. A GET only shows a page with the button,
// because link scanners and previews follow GETs.
type unsubscribeHandler struct {
	tagger *tag.Tagger
	engine *workflow.Engine
	log    *slog.Logger
}

var unsubscribePage = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>turnmail</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;margin:40px">
{{if .Done}}<p>Weekly summaries to {{.Address}} are off. Reply <b>/summary on</b> to any gateway mail to turn them back on.</p>
{{else}}<form method="post"><p>Stop the weekly summaries to {{.Address}}?</p><button type="submit">Unsubscribe</button></form>{{end}}
</body></html>
`))

func (h *unsubscribeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.URL.Path, unsubscribePath)
	address, valid := h.tagger.ParseAddressToken(token)
	if !ok || !valid {
		http.Error(w, "This unsubscribe link is not valid.", http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		unsubscribePage.Execute(w, map[string]any{"Address": address})
	case http.MethodPost:
		if err := h.engine.SetSummary(address, false); err != nil {
			h.log.Error("unsubscribe", "err", err, "address", address)
			http.Error(w, "The gateway could not record that just now; please try again later.", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		unsubscribePage.Execute(w, map[string]any{"Address": address, "Done": true})
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// startHTTP serves the one-click unsubscribe endpoint on ln until stopped.
func startHTTP(ln net.Listener, h *unsubscribeHandler) (stop func(context.Context) error) {
	mux := http.NewServeMux()
	mux.Handle(unsubscribePath, h)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("http server", "err", fmt.Errorf("serve: %w", err))
		}
	}()
	return srv.Shutdown
}
