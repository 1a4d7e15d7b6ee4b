package main

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"path"
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

// startHTTP serves the one-click unsubscribe endpoint and the download
// links on ln until stopped.
func startHTTP(ln net.Listener, h *unsubscribeHandler) (stop func(context.Context) error) {
	mux := http.NewServeMux()
	mux.Handle(unsubscribePath, h)
	mux.Handle(downloadPath, &downloadHandler{tagger: h.tagger, engine: h.engine, log: h.log})
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

// downloadPath is where the links to files too large for a mail point:
// a signed token, then the file's name (for the browser's sake only).
const downloadPath = "/download/"

// downloadHandler serves the file a signed, unexpired download link names.
type downloadHandler struct {
	tagger *tag.Tagger
	engine *workflow.Engine
	log    *slog.Logger
}

func (h *downloadHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, _ := strings.CutPrefix(r.URL.Path, downloadPath)
	token, name, _ := strings.Cut(rest, "/")
	cid, digest, ok := h.tagger.ParseDownloadToken(token, time.Now())
	if !ok {
		http.Error(w, "This download link is not valid, or has expired. Reply /status to the collaboration's mail for the current files.", http.StatusNotFound)
		return
	}
	rc, blob, err := h.engine.OpenFile(cid, digest)
	if errors.Is(err, workflow.ErrNoSuchFile) {
		http.Error(w, "This file is no longer kept.", http.StatusGone)
		return
	}
	if err != nil {
		h.log.Error("download", "err", err, "collab", cid)
		http.Error(w, "The gateway could not read the file just now; please try again later.", http.StatusServiceUnavailable)
		return
	}
	defer rc.Close()
	// The server's write timeout is for pages; a large file on a slow
	// line needs longer.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(30 * time.Minute))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", fmt.Sprint(blob.Size))
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base("/" + name)}))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, rc); err != nil {
		h.log.Warn("download cut short", "err", err, "collab", cid)
	}
}
