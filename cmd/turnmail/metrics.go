package main

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/outbound"
	"github.com/turnmail/turnmail/store"
)

// metrics is what /metrics serves. The counters are fed by wrappers around
// the seams the daemon wires (the Deliverer the inlets call, the Sender the
// worker calls), so that neither the rules nor the transports know of
// Prometheus; the gauges read the store when scraped.
type metrics struct {
	reg        *prometheus.Registry
	inbound    *prometheus.CounterVec
	replies    *prometheus.CounterVec
	accept     *prometheus.HistogramVec
	deliveries *prometheus.CounterVec
	delivery   prometheus.Histogram
	turns      prometheus.Counter
}

func newMetrics(st *store.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		inbound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnmail_inbound_total",
			Help: "Mails received, by source (smtp, lmtp, imap) and what the rules made of them (turn, started, held, rejected, error, …).",
		}, []string{"source", "outcome"}),
		replies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnmail_smtp_replies_total",
			Help: "Replies to the end of DATA over SMTP and LMTP, by protocol and code.",
		}, []string{"proto", "code"}),
		accept: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "turnmail_accept_seconds",
			Help:    "Time from a received mail's spool to its durable commit, by source.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"source"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "turnmail_outbound_deliveries_total",
			Help: "Attempts at sending gateway mail, by result: sent, temporary (retried), permanent.",
		}, []string{"result"}),
		delivery: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "turnmail_outbound_delivery_seconds",
			Help:    "Time of one attempt at sending a gateway mail.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		turns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "turnmail_turns_total",
			Help: "Turns handed over (ended by files, /done or /skip).",
		}),
	}
	depth := func() (int, time.Time) {
		n, oldest, err := st.QueueStats()
		if err != nil {
			return -1, time.Time{}
		}
		return n, oldest
	}
	m.reg.MustRegister(m.inbound, m.replies, m.accept, m.deliveries, m.delivery, m.turns,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "turnmail_outbound_queue_depth",
			Help: "Gateway mails waiting to be sent (queued or retrying); -1 when the store cannot be read.",
		}, func() float64 { n, _ := depth(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "turnmail_outbound_queue_oldest_seconds",
			Help: "How long the oldest waiting gateway mail has waited; 0 when none waits.",
		}, func() float64 {
			if _, oldest := depth(); !oldest.IsZero() {
				return time.Since(oldest).Seconds()
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "turnmail_store_bytes",
			Help: "Size of the database file.",
		}, func() float64 { n, _ := st.FileSize(); return float64(n) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// countingDeliverer counts what the rules make of each mail an inlet hands
// them, and the reply it becomes.
type countingDeliverer struct {
	d mail.Deliverer
	m *metrics
}

func (m *metrics) deliverer(d mail.Deliverer) mail.Deliverer { return countingDeliverer{d, m} }

func (c countingDeliverer) Deliver(ctx context.Context, env mail.Envelope, sp *mail.Spool) (mail.Result, error) {
	began := time.Now()
	res, err := c.d.Deliver(ctx, env, sp)
	c.m.accept.WithLabelValues(env.Source).Observe(time.Since(began).Seconds())
	outcome, code := res.Outcome, 250
	var rej *mail.Rejection
	switch {
	case errors.As(err, &rej):
		outcome, code = "rejected", rej.Code
	case err != nil:
		outcome, code = "error", 451
	}
	if outcome == "" {
		outcome = "unknown"
	}
	c.m.inbound.WithLabelValues(env.Source, outcome).Inc()
	if outcome == "turn" {
		c.m.turns.Inc()
	}
	if env.Source == "smtp" || env.Source == "lmtp" {
		c.m.replies.WithLabelValues(env.Source, strconv.Itoa(code)).Inc()
	}
	return res, err
}

// countingSender counts the worker's attempts by result.
type countingSender struct {
	s outbound.Sender
	m *metrics
}

func (m *metrics) sender(s outbound.Sender) outbound.Sender { return countingSender{s, m} }

func (c countingSender) Send(ctx context.Context, envFrom string, msg *mail.Outgoing, write func(io.Writer) error) error {
	began := time.Now()
	err := c.s.Send(ctx, envFrom, msg, write)
	c.m.delivery.Observe(time.Since(began).Seconds())
	result := "sent"
	switch {
	case err == nil:
	case outbound.IsPermanent(err):
		result = "permanent"
	default:
		result = "temporary"
	}
	c.m.deliveries.WithLabelValues(result).Inc()
	return err
}
