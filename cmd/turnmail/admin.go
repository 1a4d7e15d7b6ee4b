package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/turnmail/turnmail/store"
)

// maxQueueAge is how long the oldest waiting gateway mail may wait before
// /healthz says something is wrong: past it, the relay has refused or
// ignored mail for longer than retries explain.
const maxQueueAge = 2 * time.Hour

// health is what /healthz checks: the store takes a write, the outbound
// queue moves, the inlets still serve.
type health struct {
	st   *store.Store
	down atomic.Int32 // inlets whose Serve returned
	now  func() time.Time
}

// healthReport is /healthz's body.
type healthReport struct {
	Status             string  `json:"status"` // "ok" or "fail"
	Reason             string  `json:"reason,omitempty"`
	Store              string  `json:"store"`
	QueueDepth         int     `json:"queue_depth"`
	QueueOldestSeconds float64 `json:"queue_oldest_seconds"`
	InletsDown         int     `json:"inlets_down"`
}

func (h *health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rep := healthReport{Status: "ok", Store: "ok"}
	var fails []string
	if err := h.st.Writable(); err != nil {
		rep.Store = err.Error()
		fails = append(fails, "the store takes no writes: "+err.Error())
	}
	n, oldest, err := h.st.QueueStats()
	rep.QueueDepth = n
	if err != nil {
		fails = append(fails, "the outbound queue cannot be read: "+err.Error())
	} else if !oldest.IsZero() {
		rep.QueueOldestSeconds = h.now().Sub(oldest).Seconds()
		if age := h.now().Sub(oldest); age > maxQueueAge {
			fails = append(fails, fmt.Sprintf("the oldest outbound mail has waited %s", age.Round(time.Minute)))
		}
	}
	if d := int(h.down.Load()); d > 0 {
		rep.InletsDown = d
		fails = append(fails, fmt.Sprintf("%d inlet(s) stopped serving", d))
	}
	code := http.StatusOK
	if len(fails) > 0 {
		rep.Status, rep.Reason, code = "fail", errors.Join(errorsOf(fails)...).Error(), http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(rep)
}

func errorsOf(s []string) []error {
	errs := make([]error, len(s))
	for i, v := range s {
		errs[i] = errors.New(v)
	}
	return errs
}

// startAdmin serves /healthz, /metrics and, with withPprof, /debug/pprof/
// on ln until stopped.
func startAdmin(ln net.Listener, h *health, m *metrics, withPprof bool, log *slog.Logger) (stop func(context.Context) error) {
	mux := http.NewServeMux()
	mux.Handle("/healthz", h)
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		// Long enough for a 30 s CPU profile.
		WriteTimeout: 2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin server", "err", fmt.Errorf("serve: %w", err))
		}
	}()
	return srv.Shutdown
}
