// The dashboards: draws the charts from the JSON the page embeds
// (#dashboard-data) with the vendored Chart.js, then polls the totals API
// and updates the figures and charts in place. Money is fen, as in the API.
(function () {
  "use strict";

  function yuan(fen) {
    var neg = fen < 0;
    if (neg) fen = -fen;
    var whole = Math.floor(fen / 100), rest = fen % 100;
    var s = String(whole).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (neg ? "-" : "") + "¥" + s + "." + (rest < 10 ? "0" : "") + rest;
  }

  function dayLabel(iso, lang) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    if (!m) return iso;
    if (lang === "en") {
      var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
      return +m[3] + " " + months[+m[2] - 1];
    }
    return +m[2] + "月" + +m[3] + "日";
  }

  var red = "#c8102e", gold = "#d4a017";

  function moneyAxis() {
    return { beginAtZero: true, ticks: { callback: function (v) { return yuan(Math.round(v * 100)); } } };
  }

  function tooltipMoney(ctx) {
    var v = ctx.parsed[ctx.chart.options.indexAxis === "y" ? "x" : "y"];
    return " " + yuan(Math.round(v * 100));
  }

  function setEmpty(root, name, empty) {
    var p = root.querySelector('[data-chart-empty="' + name + '"]');
    var box = root.querySelector('[data-chart="' + name + '"]');
    if (p) p.hidden = !empty;
    if (box && box.parentNode) box.parentNode.classList.toggle("is-empty", empty);
  }

  function dashboard(root, data) {
    var Chart = window.Chart;
    var charts = {};
    var label = data.labels || {};

    function dayData(days) {
      return {
        labels: days.map(function (d) { return dayLabel(d.date, data.lang); }),
        values: days.map(function (d) { return d.gmv / 100; })
      };
    }

    function stallData(stalls) {
      stalls = (stalls || []).slice(0, data.top || 20);
      return {
        labels: stalls.map(function (s) { return s.name; }),
        values: stalls.map(function (s) { return s.gmv / 100; })
      };
    }

    function draw(by_day, by_stall) {
      var d = dayData(by_day || []);
      setEmpty(root, "by-day", d.values.length === 0);
      var dayCanvas = root.querySelector('[data-chart="by-day"]');
      if (Chart && dayCanvas) {
        if (charts.day) {
          charts.day.data.labels = d.labels;
          charts.day.data.datasets[0].data = d.values;
          charts.day.update("none");
        } else {
          charts.day = new Chart(dayCanvas, {
            type: "line",
            data: { labels: d.labels, datasets: [{ label: label.gmv, data: d.values, borderColor: red, backgroundColor: "rgba(200,16,46,.12)", fill: true, tension: 0.25, pointRadius: 3 }] },
            options: {
              maintainAspectRatio: false, animation: false,
              plugins: { legend: { display: false }, tooltip: { callbacks: { label: tooltipMoney } } },
              scales: { x: { offset: true }, y: moneyAxis() }
            }
          });
        }
      }
      var stallCanvas = root.querySelector('[data-chart="by-stall"]');
      if (!stallCanvas) return;
      var s = stallData(by_stall);
      setEmpty(root, "by-stall", s.values.length === 0);
      if (!Chart) return;
      if (charts.stall) {
        charts.stall.data.labels = s.labels;
        charts.stall.data.datasets[0].data = s.values;
        charts.stall.update("none");
      } else {
        charts.stall = new Chart(stallCanvas, {
          type: "bar",
          data: { labels: s.labels, datasets: [{ label: label.gmv, data: s.values, backgroundColor: gold, borderColor: red, borderWidth: 1 }] },
          options: {
            indexAxis: "y", maintainAspectRatio: false, animation: false,
            plugins: { legend: { display: false }, tooltip: { callbacks: { label: tooltipMoney } } },
            scales: { x: moneyAxis(), y: { ticks: { autoSkip: false } } }
          }
        });
      }
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

    draw(data.by_day, data.by_stall);

    var busy = false;
    function refresh() {
      if (busy || document.hidden || !data.api) return;
      busy = true;
      fetch(data.api, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (res) {
        if (!res.ok) throw new Error("status " + res.status);
        return res.json();
      }).then(function (t) {
        figures(t);
        draw(t.by_day, t.by_stall);
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
