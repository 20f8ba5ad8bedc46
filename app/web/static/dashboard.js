// The dashboards: draws the charts from the totals the page embeds
// (#dashboard-data) with the vendored Chart.js, then polls the totals API
// and updates the figures and charts in place. Money is fen, as in the API;
// times are Asia/Shanghai, as the API gives them.
(function () {
  "use strict";

  function yuan(fen) {
    var neg = fen < 0;
    if (neg) fen = -fen;
    var whole = Math.floor(fen / 100), rest = fen % 100;
    var s = String(whole).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (neg ? "-" : "") + "¥" + s + "." + (rest < 10 ? "0" : "") + rest;
  }

  var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  function dayLabel(iso, lang) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
    if (!m) return iso;
    return lang === "en" ? +m[3] + " " + months[+m[2] - 1] : +m[2] + "月" + +m[3] + "日";
  }

  // hourLabel reads "2026-02-01T10:00:00+08:00" as written (Shanghai time).
  function hourLabel(iso, lang) {
    var m = /^\d{4}-\d{2}-\d{2}T(\d{2})/.exec(iso || "");
    return m ? dayLabel(iso, lang) + " " + m[1] + ":00" : iso;
  }

  var red = "#c8102e", gold = "#d4a017";
  var palette = [red, gold, "#2f6f4f", "#3b5b92", "#8c4fa0", "#d2691e", "#5f9ea0", "#a0522d", "#708090", "#b8860b"];

  function moneyAxis() {
    return { beginAtZero: true, ticks: { callback: function (v) { return yuan(Math.round(v * 100)); } } };
  }

  function tooltipMoney(ctx) {
    var v = ctx.parsed;
    if (typeof v === "object") v = v[ctx.chart.options.indexAxis === "y" ? "x" : "y"];
    return " " + (ctx.label && ctx.chart.config.type === "doughnut" ? ctx.label + ": " : "") + yuan(Math.round(v * 100));
  }

  // lastHours is the 48 hours up to the last one with sales, with the
  // hours without sales as zero.
  function lastHours(hours) {
    if (!hours.length) return [];
    var byTime = {}, last = 0;
    hours.forEach(function (h) {
      var t = Date.parse(h.hour);
      byTime[t] = h;
      if (t > last) last = t;
    });
    var out = [];
    for (var i = 47; i >= 0; i--) {
      var t = last - i * 3600e3, h = byTime[t];
      // The label keeps Shanghai time: shift to UTC+8 and read it as UTC.
      var d = new Date(t + 8 * 3600e3);
      var iso = d.toISOString().slice(0, 13) + ":00:00+08:00";
      out.push({ hour: iso, gmv: h ? h.gmv : 0, orders: h ? h.orders : 0 });
    }
    return out;
  }

  function dashboard(root, data) {
    var Chart = window.Chart;
    var label = data.labels || {};
    var lang = data.lang;
    var charts = {};

    function catName(c) {
      if (!c.category) return label.uncategorized;
      return (lang === "en" ? c.name_en : c.name) || c.category;
    }

    // specs turns the totals into each chart's type, labels and datasets.
    var specs = {
      "by-day": function (t) {
        var days = t.by_day || [];
        return {
          type: "line", labels: days.map(function (d) { return dayLabel(d.date, lang); }), money: true,
          datasets: [{ label: label.gmv, data: days.map(function (d) { return d.gmv / 100; }), borderColor: red, backgroundColor: "rgba(200,16,46,.12)", fill: true, tension: 0.25, pointRadius: 3 }]
        };
      },
      "by-hour": function (t) {
        var hours = lastHours(t.by_hour || []);
        return {
          type: "bar", labels: hours.map(function (h) { return hourLabel(h.hour, lang); }), money: true,
          datasets: [{ label: label.gmv, data: hours.map(function (h) { return h.gmv / 100; }), backgroundColor: red }]
        };
      },
      "by-stall": function (t) {
        var stalls = (t.by_stall || []).slice(0, data.top || 20);
        return {
          type: "bar", horizontal: true, labels: stalls.map(function (s) { return s.name; }), money: true,
          datasets: [{ label: label.gmv, data: stalls.map(function (s) { return s.gmv / 100; }), backgroundColor: gold, borderColor: red, borderWidth: 1 }]
        };
      },
      "by-category": function (t) {
        var cats = t.by_category || [];
        return {
          type: "doughnut", labels: cats.map(catName), money: true,
          datasets: [{ label: label.gmv, data: cats.map(function (c) { return c.gmv / 100; }), backgroundColor: palette }]
        };
      },
      "by-fulfillment": function (t) {
        var fs = t.by_fulfillment || [];
        return {
          type: "doughnut", money: true,
          labels: fs.map(function (f) {
            var name = f.fulfillment === "ship" ? label.online : f.fulfillment === "booth" ? label.booth : label.offline;
            var s = name + " · " + f.orders + " " + label.orders_unit;
            return f.fulfillment === "pickup" ? s + " · " + label.redeemed + " " + f.redeemed : s;
          }),
          datasets: [{ label: label.gmv, data: fs.map(function (f) { return f.gmv / 100; }), backgroundColor: [gold, red, "#2e7d32"] }]
        };
      },
      "flash-sales": function (t) {
        var sales = t.flash_sales || [];
        return {
          type: "bar", horizontal: true, stacked: true, labels: sales.map(function (s) { return s.title; }),
          datasets: [
            { label: label.ordered, data: sales.map(function (s) { return s.ordered; }), backgroundColor: red },
            { label: label.left, data: sales.map(function (s) { return Math.max(0, s.quantity - s.ordered); }), backgroundColor: "rgba(212,160,23,.35)" }
          ]
        };
      },
      "coupons": function (t) {
        var cs = t.coupons || [];
        return {
          type: "bar", horizontal: true, money: true,
          labels: cs.map(function (c) {
            var ratio = c.discount > 0 ? (c.gmv / c.discount).toFixed(1) : "–";
            return c.title + " · " + label.coupon_ratio + " " + ratio;
          }),
          datasets: [
            { label: label.coupon_discount, data: cs.map(function (c) { return c.discount / 100; }), backgroundColor: gold },
            { label: label.coupon_gmv, data: cs.map(function (c) { return c.gmv / 100; }), backgroundColor: red }
          ]
        };
      },
      "developments": function (t) {
        var ds = t.developments || [];
        var names = ds.map(function (d) { return d.name; });
        function set(key, color) {
          return { label: label[key], data: ds.map(function (d) { return d[key]; }), backgroundColor: color };
        }
        return {
          type: "bar", labels: names,
          datasets: [set("vouchers_sold", red), set("vouchers_redeemed", gold), set("vouchers_refunded", "#708090"), set("bookings", "#2f6f4f")]
        };
      }
    };

    function options(s) {
      var o = { maintainAspectRatio: false, animation: false, plugins: { legend: { display: s.datasets.length > 1 || s.type === "doughnut" } } };
      if (s.money) o.plugins.tooltip = { callbacks: { label: tooltipMoney } };
      if (s.type === "doughnut") return o;
      var value = s.money ? moneyAxis() : { beginAtZero: true, ticks: { precision: 0 } };
      var cat = { ticks: { autoSkip: !s.horizontal } };
      if (s.stacked) { value.stacked = true; cat.stacked = true; }
      if (s.horizontal) {
        o.indexAxis = "y";
        o.scales = { x: value, y: cat };
      } else {
        cat.offset = true;
        o.scales = { x: cat, y: value };
      }
      return o;
    }

    // draw shows the totals t on every chart. Building a chart is the heavy
    // part of the page's script, so each chart is drawn in a task of its
    // own (the page stays responsive between them), and only once it comes
    // near the screen: a phone that never scrolls to the lower charts never
    // builds them. A chart whose figures have not changed since it was drawn
    // is left alone; a newer call supersedes what an older one has not drawn.
    var drawn = {}, seen = {}, pending = {};
    function paint(j) {
      var c = charts[j.name], s = j.s;
      if (c) {
        c.data.labels = s.labels;
        s.datasets.forEach(function (d, i) { c.data.datasets[i].data = d.data; });
        c.update("none");
      } else {
        charts[j.name] = new Chart(j.canvas, { type: s.type, data: { labels: s.labels, datasets: s.datasets }, options: options(s) });
      }
      drawn[j.name] = j.key;
    }
    var near = window.IntersectionObserver ? new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        if (!e.isIntersecting) return;
        var name = e.target.getAttribute("data-chart");
        seen[name] = true;
        near.unobserve(e.target);
        setTimeout(function () {
          var j = pending[name];
          delete pending[name];
          if (j) paint(j);
        }, 0);
      });
    }, { rootMargin: "200px 0px" }) : null;
    function draw(t) {
      Object.keys(specs).forEach(function (name) {
        var canvas = root.querySelector('[data-chart="' + name + '"]');
        if (!canvas) return;
        var s = specs[name](t);
        var empty = s.datasets.every(function (d) { return d.data.length === 0; });
        var p = root.querySelector('[data-chart-empty="' + name + '"]');
        if (p) p.hidden = !empty;
        canvas.parentNode.classList.toggle("is-empty", empty);
        if (!Chart) return;
        var key = JSON.stringify([s.labels, s.datasets.map(function (d) { return d.data; })]);
        if (drawn[name] === key) return;
        var j = { name: name, canvas: canvas, s: s, key: key };
        if (near && !seen[name]) {
          if (!pending[name]) near.observe(canvas);
          pending[name] = j;
        } else {
          setTimeout(function () { paint(j); }, 0);
        }
      });
    }

    function figures(t) {
      root.querySelectorAll("[data-field]").forEach(function (el) {
        var v = t[el.getAttribute("data-field")];
        if (typeof v !== "number") return;
        el.textContent = el.hasAttribute("data-money") ? yuan(v) : String(v);
      });
    }

    var status = root.querySelector("[data-dash-status]");
    function setStatus(ok) {
      if (!status) return;
      status.textContent = ok ? label.live : label.stale;
      status.classList.toggle("stale", !ok);
    }

    draw(data.totals || {});

    var busy = false;
    function refresh() {
      if (busy || document.hidden || !data.api) return;
      busy = true;
      fetch(data.api, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (res) {
        if (!res.ok) throw new Error("status " + res.status);
        return res.json();
      }).then(function (t) {
        figures(t);
        draw(t);
        setStatus(true);
      }).catch(function () {
        setStatus(false);
      }).then(function () { busy = false; });
    }
    setInterval(refresh, data.interval_ms || 5000);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("dashboard-data");
    var root = document.querySelector("[data-dashboard]");
    if (!el || !root) return;
    var data;
    try { data = JSON.parse(el.textContent); } catch (e) { return; }
    dashboard(root, data);
  });
})();
