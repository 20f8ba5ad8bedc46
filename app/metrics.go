package app

import (
	"strconv"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"miaohui/jobs"
)

// Metrics are the Prometheus series the server exports at /metrics.
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	purchase sync.Map // status → purchaseSeries
}

// NewMetrics registers the HTTP series, Go and process collectors, and the
// queue depth read from Redis at each scrape.
func NewMetrics(inspector *asynq.Inspector) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fair_http_requests_total",
			Help: "HTTP requests served, by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fair_http_request_duration_seconds",
			Help:    "HTTP request latency, by method, route pattern and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route", "status"}),
	}
	reg.MustRegister(m.requests, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&queueCollector{inspector: inspector})
	return m
}

// observePurchase records a flash purchase; its series are looked up once per
// status, as this path is the busiest.
func (m *Metrics) observePurchase(status int, d time.Duration) {
	v, ok := m.purchase.Load(status)
	if !ok {
		s := strconv.Itoa(status)
		v, _ = m.purchase.LoadOrStore(status, purchaseSeries{
			m.requests.WithLabelValues("POST", purchaseRoute, s), m.latency.WithLabelValues("POST", purchaseRoute, s)})
	}
	ps := v.(purchaseSeries)
	ps.count.Inc()
	ps.latency.Observe(d.Seconds())
}

type purchaseSeries struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

func (m *Metrics) observe(method, route string, status int, d time.Duration) {
	s := strconv.Itoa(status)
	m.requests.WithLabelValues(method, route, s).Inc()
	m.latency.WithLabelValues(method, route, s).Observe(d.Seconds())
}

// queueCollector reports each Asynq queue's tasks by state.
type queueCollector struct{ inspector *asynq.Inspector }

var queueDepth = prometheus.NewDesc("fair_queue_tasks", "Tasks in each queue, by state.", []string{"queue", "state"}, nil)

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- queueDepth }

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	for name := range jobs.Queues() {
		info, err := q.inspector.GetQueueInfo(name)
		if err != nil {
			continue // a queue never used yet has no info
		}
		for state, n := range map[string]int{
			"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived, "completed": info.Completed,
		} {
			ch <- prometheus.MustNewConstMetric(queueDepth, prometheus.GaugeValue, float64(n), name, state)
		}
	}
}
