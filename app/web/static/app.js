// Miaohui pages work without JavaScript; this file only adds small comforts.
// Forms marked data-confirm ask before they submit.
document.addEventListener("submit", function (ev) {
  var msg = ev.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) ev.preventDefault();
});

// Product forms show the voucher fields only for vouchers, and the delivery
// choice only for goods (without JavaScript both stay visible).
function syncProductForm(form) {
  var kind = form.querySelector("[data-kind-select]");
  var voucher = kind ? kind.value === "voucher" : true;
  form.querySelectorAll("[data-voucher-only]").forEach(function (el) { el.hidden = !voucher; });
  form.querySelectorAll("[data-goods-only]").forEach(function (el) { el.hidden = voucher; });
}
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-product-form]").forEach(syncProductForm);
});
document.addEventListener("change", function (ev) {
  var t = ev.target;
  if (t.matches("[data-kind-select]")) syncProductForm(t.form);
  // A photo over the size limit is refused before it is uploaded.
  if (t.matches("input[type=file][data-max-bytes]")) {
    var max = parseInt(t.getAttribute("data-max-bytes"), 10);
    var big = t.files && t.files[0] && t.files[0].size > max;
    t.setCustomValidity(big ? t.getAttribute("data-too-big") : "");
    if (big) t.reportValidity();
  }
});

// Forms marked data-once are sent once: a second tap while the first is on
// its way is ignored, and the buttons are disabled (after the browser has
// read the pressed button's name and value).
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  if (!form.hasAttribute("data-once") || ev.defaultPrevented) return;
  if (form.getAttribute("data-sent")) { ev.preventDefault(); return; }
  form.setAttribute("data-sent", "1");
  setTimeout(function () {
    form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
  }, 0);
});
// Coming back to a page from the history shows its forms usable again.
window.addEventListener("pageshow", function (ev) {
  if (!ev.persisted) return;
  document.querySelectorAll("form[data-sent]").forEach(function (form) {
    form.removeAttribute("data-sent");
    form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
  });
});

// Checkout: the address is asked for only when something is shipped.
function syncFulfilForm(form) {
  var pickup = form.querySelector("input[name=fulfillment][value=pickup]:checked");
  form.querySelectorAll("[data-ship-only]").forEach(function (el) { el.hidden = !!pickup; });
}

// The payment window counts down from the server's clock (the page says
// when it loaded, so a wrong phone clock does not matter).
function startCountdown(el) {
  var expires = parseInt(el.getAttribute("data-expires"), 10);
  var skew = parseInt(el.getAttribute("data-now"), 10) - Date.now();
  var left = el.getAttribute("data-left");
  function tick() {
    var ms = expires - (Date.now() + skew);
    if (ms <= 0) {
      el.textContent = el.getAttribute("data-expired");
      document.querySelectorAll("[data-pay-button]").forEach(function (b) { b.disabled = true; });
      return;
    }
    var s = Math.ceil(ms / 1000), m = Math.floor(s / 60);
    s = s % 60;
    el.textContent = left.replace("{t}", (m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s);
    setTimeout(tick, ms % 1000 || 1000); // to the next whole second
  }
  tick();
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-fulfil-form]").forEach(syncFulfilForm);
  document.querySelectorAll("[data-countdown]").forEach(startCountdown);
  // The pay page sends the payer on to the provider's checkout page; the
  // link stays there for a browser that does not follow.
  var go = document.querySelector("a[data-redirect]");
  if (go) setTimeout(function () { window.location.assign(go.href); }, 600);
});
document.addEventListener("change", function (ev) {
  var t = ev.target;
  if (t.name === "fulfillment" && t.form && t.form.hasAttribute("data-fulfil-form")) syncFulfilForm(t.form);
  // Filters apply as soon as they change.
  if (t.form && t.form.hasAttribute("data-autosubmit") && t.tagName === "SELECT") t.form.submit();
});

// ---- Flash sales (抢购) ----
// Countdowns run on the server's clock: the page says what time it was on
// the server when it was made (data-now), and each poll of the sale reads
// the X-Server-Time header, so a phone whose clock is off still opens on
// time. The grab button opens only once the server says the sale is live.
(function () {
  "use strict";

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // Go writes times with up to nine decimals; Date.parse wants at most three.
  function parseTime(s) {
    if (!s) return NaN;
    return Date.parse(String(s).replace(/(\.\d{3})\d+/, "$1"));
  }

  // leftText writes a duration as HH:MM:SS, after a number of days if any.
  function leftText(ms, daysTpl) {
    var s = Math.max(0, Math.ceil(ms / 1000));
    var d = Math.floor(s / 86400);
    s %= 86400;
    var t = pad(Math.floor(s / 3600)) + ":" + pad(Math.floor((s % 3600) / 60)) + ":" + pad(s % 60);
    return d > 0 ? (daysTpl || "{n}d").replace("{n}", d) + " " + t : t;
  }

  function num(el, name) { return parseInt(el.getAttribute(name), 10); }

  // skewOf is the server's clock minus this one, from a page's data-now.
  function skewOf(el) {
    var now = num(el, "data-now");
    return isNaN(now) ? 0 : now - Date.now();
  }

  // countdownText is what a countdown reads at server time t.
  function countdownText(el, starts, ends, t) {
    if (t < starts) return el.getAttribute("data-before").replace("{t}", leftText(starts - t, el.getAttribute("data-days")));
    if (t < ends) return el.getAttribute("data-live").replace("{t}", leftText(ends - t, el.getAttribute("data-days")));
    return el.getAttribute("data-after");
  }

  // Calls fn on each whole second of the server's clock.
  function everySecond(skew, fn) {
    function tick() {
      if (fn() === false) return;
      setTimeout(tick, 1000 - ((Date.now() + skew()) % 1000) + 5);
    }
    tick();
  }

  // getSale reads a sale from the API and the server's clock with it.
  function getSale(id) {
    var sent = Date.now();
    return fetch("/api/v1/flash-sales/" + encodeURIComponent(id), { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (res) {
        if (!res.ok) { var err = new Error("status " + res.status); err.status = res.status; throw err; }
        var got = Date.now(), server = parseTime(res.headers.get("X-Server-Time"));
        return res.json().then(function (sale) {
          // The server read its clock about halfway through the round trip.
          sale.skew = isNaN(server) ? null : server - (sent + got) / 2;
          return sale;
        });
      });
  }

  // ---- Lists: countdowns and progress ----

  function startCountdown(el) {
    if (el.getAttribute("data-started")) return;
    el.setAttribute("data-started", "1");
    var skew = skewOf(el), starts = num(el, "data-starts"), ends = num(el, "data-ends");
    var item = el.closest("[data-status]"), shown = item ? item.getAttribute("data-status") : "";
    everySecond(function () { return skew; }, function () {
      if (!el.isConnected) return false;
      var t = Date.now() + skew;
      el.textContent = countdownText(el, starts, ends, t);
      var p = t < starts ? "upcoming" : t < ends ? "live" : "ended";
      if (item && p !== shown && shown !== "withdrawn") { shown = p; showStatus(item, p); }
      return t < ends;
    });
  }

  // showStatus shows a list item's new status: its badge, and the forms
  // that only a sale not yet started has.
  function showStatus(item, status) {
    var list = item.closest("[data-fs-list]");
    item.setAttribute("data-status", status);
    var badge = item.querySelector("[data-fs-status]");
    if (badge && list && list.getAttribute("data-labels-" + status)) {
      badge.textContent = list.getAttribute("data-labels-" + status);
      badge.className = "status fs-" + status;
    }
    item.querySelectorAll("[data-fs-upcoming-only]").forEach(function (e) { e.hidden = status !== "upcoming"; });
  }

  // A progress row (data-fs-progress) shows sold and left; live sales are
  // read again every 2 seconds, and once more when they end.
  function refreshProgress(row) {
    return getSale(row.getAttribute("data-id")).then(function (sale) {
      if (sale.skew !== null) row._skew = sale.skew;
      var quantity = sale.quantity, left = Math.max(0, sale.remaining), sold = Math.max(0, quantity - left);
      showStatus(row, sale.status);
      row.setAttribute("data-ends", parseTime(sale.ends_at));
      row.setAttribute("data-starts", parseTime(sale.starts_at));
      row.querySelectorAll("[data-fs-sold]").forEach(function (e) { e.textContent = sold; });
      row.querySelectorAll("[data-fs-remaining]").forEach(function (e) { e.textContent = left; });
      row.querySelectorAll("[data-fs-bar]").forEach(function (e) { e.max = Math.max(quantity, 1); e.value = sold; });
      var soldOut = row.querySelector("[data-fs-sold-out]");
      if (soldOut) soldOut.hidden = !(sale.status === "live" && left === 0);
    });
  }

  var progressTimer = null;
  function watchProgress() {
    if (progressTimer) return;
    progressTimer = setInterval(function () {
      if (document.hidden) return;
      var rows = document.querySelectorAll("[data-fs-progress]");
      if (!rows.length) { clearInterval(progressTimer); progressTimer = null; return; }
      rows.forEach(function (row) {
        if (row.getAttribute("data-busy")) return;
        var status = row.getAttribute("data-status");
        if (status === "withdrawn" || status === "ended") return;
        // Upcoming sales are read once their start comes, live ones each
        // time until the server says they ended.
        if (status === "upcoming" && Date.now() + (row._skew || 0) < num(row, "data-starts")) return;
        row.setAttribute("data-busy", "1");
        refreshProgress(row).catch(function () {}).then(function () { row.removeAttribute("data-busy"); });
      });
    }, 2000);
  }

  function initFlash(root) {
    root.querySelectorAll("[data-fs-countdown]").forEach(startCountdown);
    var rows = root.querySelectorAll("[data-fs-progress]");
    rows.forEach(function (row) { row._skew = skewOf(row); });
    if (rows.length) watchProgress();
  }

  // Sections marked data-include pull in a list rendered by the server;
  // without JavaScript they keep their link to it. 204 means nothing to show.
  function include(el) {
    fetch(el.getAttribute("data-include"), { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (res) {
        if (res.status === 204) { el.hidden = true; return null; }
        // A redirect is to the sign-in page: keep the link.
        if (!res.ok || res.redirected) throw new Error("status " + res.status);
        return res.text();
      })
      .then(function (html) {
        if (html === null) return;
        el.innerHTML = html;
        el.setAttribute("data-included", "1");
        initFlash(el);
      })
      .catch(function () {});
  }

  // ---- A sale's page ----

  function salePage(root) {
    var texts = {};
    try { texts = JSON.parse(document.getElementById("fs-texts").textContent); } catch (e) {}
    function T(k) { return texts[k] || k; }
    var meta = document.querySelector("meta[name=csrf-token]");
    var csrf = meta ? meta.getAttribute("content") : "";
    var id = root.getAttribute("data-id");
    var st = {
      status: root.getAttribute("data-status"),
      starts: num(root, "data-starts"), ends: num(root, "data-ends"),
      quantity: num(root, "data-quantity"), remaining: num(root, "data-remaining"),
      limit: num(root, "data-limit"), won: num(root, "data-won") || 0,
      skew: skewOf(root), busy: false, timer: null
    };
    var clock = root.querySelector("[data-fs-clock]");
    var grab = root.querySelector("[data-fs-grab]");
    var result = root.querySelector("[data-fs-result]");
    var badge = root.querySelector("[data-fs-status]");
    var soldOut = root.querySelector("[data-fs-sold-out]");
    var remind = root.querySelector("[data-fs-remind]");
    var ticketKey = "fs-ticket:" + id;
    function now() { return Date.now() + st.skew; }

    // phase is what the page shows: the server's status, except that the
    // countdown may reach the start a moment before the server confirms it
    // ("opening") and the end a moment before the next poll.
    function phase() {
      var t = now();
      if (st.status === "withdrawn") return "withdrawn";
      if (st.status === "ended" || t >= st.ends) return "ended";
      if (st.status === "upcoming") return t < st.starts ? "upcoming" : "opening";
      return "live";
    }

    function render() {
      var p = phase(), t = now();
      if (clock) clock.textContent = p === "opening" ? T("opening") : countdownText(clock, st.starts, st.ends, t);
      root.setAttribute("data-phase", p);
      var shown = p === "opening" ? "upcoming" : p;
      if (badge) { badge.textContent = T("status." + shown); badge.className = "status fs-" + shown; }
      if (soldOut) soldOut.hidden = !(p === "live" && st.remaining <= 0);
      root.querySelectorAll("[data-fs-remaining]").forEach(function (e) { e.textContent = Math.max(0, st.remaining); });
      root.querySelectorAll("[data-fs-bar]").forEach(function (e) { e.max = Math.max(st.quantity, 1); e.value = Math.max(0, st.quantity - st.remaining); });
      if (remind && p !== "upcoming") remind.hidden = true;
      if (!grab) return;
      var label, on = false;
      if (st.busy) label = st.busy === "sending" ? T("grab_sending") : T("grab_waiting");
      else if (p === "upcoming" || p === "opening") label = T("grab_soon");
      else if (p === "ended" || p === "withdrawn") label = T("grab_ended");
      else if (st.limit > 0 && st.won >= st.limit) label = T("grab_done");
      else if (st.remaining <= 0) label = T("grab_sold_out");
      else if (st.won > 0) {
        // A second grab is a second order: say so, with what the limit leaves.
        label = st.limit > 0 ? T("grab_again").replace("{n}", st.limit - st.won) : T("grab_again_any");
        on = true;
      }
      else { label = T("grab"); on = true; }
      grab.textContent = label;
      grab.disabled = !on;
      grab.setAttribute("data-state", on ? "open" : p);
    }

    // The next poll: live sales every 2 seconds; coming ones every 15, and
    // at the start; about every second until the server confirms the start.
    // A little jitter spreads the phones that all wait for the same second.
    function schedule(wait) {
      clearTimeout(st.timer);
      var p = phase(), jitter = Math.random() * 400;
      if (p === "ended" && st.status !== "live") return; // nothing changes any more
      if (p === "withdrawn") return;
      if (wait === undefined) {
        if (p === "live" || p === "ended") wait = 2000;
        else if (p === "opening") wait = 600 + jitter;
        else wait = Math.min(15000, Math.max(50, st.starts - now() + 50 + jitter));
      }
      st.timer = setTimeout(poll, wait);
    }

    function poll() {
      if (document.hidden) { schedule(); return; }
      getSale(id).then(function (sale) {
        if (sale.skew !== null) st.skew = sale.skew;
        st.status = sale.status;
        st.quantity = sale.quantity;
        st.remaining = sale.remaining;
        st.starts = parseTime(sale.starts_at);
        st.ends = parseTime(sale.ends_at);
        render();
      }, function (err) {
        // The merchant withdrew it: the public no longer sees it.
        if (err && err.status === 404) { st.status = "withdrawn"; render(); }
      }).then(function () { schedule(); });
    }
    document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });

    everySecond(function () { return st.skew; }, function () { render(); return true; });
    // The first poll comes soon: it sets the clock from X-Server-Time, which
    // allows for the time the page took to arrive.
    schedule(Math.min(1000, phase() === "upcoming" ? Math.max(50, st.starts - now()) : 1000));

    // ---- The ticket's fate ----

    // show puts the latest message (and its link) at the top of the result;
    // the list of the orders won (.fs-orders) stays below it.
    function show(state, message, link) {
      if (!result) return;
      result.hidden = false;
      result.setAttribute("data-status", state);
      var list = result.querySelector(".fs-orders");
      Array.prototype.slice.call(result.childNodes).forEach(function (n) { if (n !== list) result.removeChild(n); });
      var at = list || null;
      var p = document.createElement("p");
      p.className = "fs-msg";
      p.textContent = message;
      result.insertBefore(p, at);
      if (link) {
        var a = document.createElement("a");
        a.href = link.href;
        a.className = link.className || "button";
        a.textContent = link.text;
        if (link.testid) a.setAttribute("data-testid", link.testid);
        result.insertBefore(a, at);
        if (link.note) {
          var s = document.createElement("span");
          s.className = "muted small";
          s.textContent = " " + link.note;
          result.insertBefore(s, at);
        }
      }
    }

    // addOrder lists an order just won with its own 去支付, newest first,
    // beside those won before: each must be paid.
    function addOrder(o, note) {
      if (!result) return;
      var list = result.querySelector(".fs-orders");
      if (!list) {
        list = document.createElement("ul");
        list.className = "fs-orders";
        result.appendChild(list);
      }
      if (list.querySelector('[data-order="' + o.id + '"]')) return;
      var li = document.createElement("li");
      li.setAttribute("data-testid", "flash-order");
      li.setAttribute("data-order", o.id);
      li.setAttribute("data-status", o.status || "pending_payment");
      var a = document.createElement("a");
      a.href = "/pay/" + encodeURIComponent(o.payment_id);
      a.className = "button";
      a.textContent = T("pay_now");
      a.setAttribute("data-testid", "pay-link");
      li.appendChild(a);
      if (note) {
        var s = document.createElement("span");
        s.className = "muted small";
        s.textContent = " " + note;
        li.appendChild(s);
      }
      list.insertBefore(li, list.firstChild);
    }

    function forget() { try { sessionStorage.removeItem(ticketKey); } catch (e) {} }

    function ordered(orderID) {
      return fetch("/api/v1/orders/" + encodeURIComponent(orderID), { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (res) { if (!res.ok) throw new Error("status " + res.status); return res.json(); })
        .then(function (o) {
          var note = "";
          var exp = parseTime(o.expires_at);
          if (!isNaN(exp)) {
            var d = new Date(exp + 8 * 3600 * 1000); // Beijing time
            note = T("pay_by").replace("{t}", pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()));
          }
          addOrder(o, note);
          show("ordered", T("ordered"));
        })
        .catch(function () {
          show("ordered", T("ordered"), { href: "/orders", text: T("see_orders"), className: "button secondary", testid: "orders-link" });
        });
    }

    // followTicket asks every second what became of the ticket.
    function followTicket(ticket, started) {
      st.busy = "waiting";
      render();
      function again() {
        if (Date.now() - started > 120000) {
          st.busy = false; render();
          show("queued", T("slow"), { href: "/orders", text: T("see_orders"), className: "button secondary", testid: "orders-link" });
          return;
        }
        setTimeout(ask, 1000);
      }
      function ask() {
        fetch("/api/v1/flash-sales/" + encodeURIComponent(id) + "/tickets/" + encodeURIComponent(ticket), { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
          .then(function (res) {
            if (res.status === 404) { forget(); st.busy = false; render(); if (result) result.hidden = true; return; }
            if (!res.ok) { again(); return; }
            return res.json().then(function (tk) {
              if (tk.status === "ordered" && tk.order_id) {
                forget();
                st.busy = false;
                render();
                return ordered(tk.order_id);
              }
              if (tk.status === "rejected") {
                forget();
                st.won = Math.max(0, st.won - 1);
                st.busy = false;
                render();
                show("rejected", tk.reason === "sold_out" ? T("rejected.sold_out") : T("rejected"));
                return;
              }
              again();
            });
          }, again);
      }
      ask();
    }

    // The error codes of the purchase (problem+json), as messages.
    var errorTexts = {
      sold_out: "err.sold_out", limit_reached: "err.limit_reached", not_started: "err.not_started", ended: "err.ended",
      rate_limited: "err.rate_limited", insufficient_stock: "err.insufficient_stock", unauthenticated: "err.unauthenticated",
      forbidden: "err.forbidden", not_found: "err.not_found"
    };

    function failed(res, body) {
      var code = (body && body.code) || (res.status === 429 ? "rate_limited" : res.status === 401 ? "unauthenticated" : res.status === 403 ? "forbidden" : "");
      var link = null;
      switch (code) {
        case "sold_out": st.remaining = 0; break;
        case "limit_reached": st.won = Math.max(st.won, st.limit); break;
        case "not_started": poll(); break;
        case "ended": st.status = "ended"; break;
        case "unauthenticated":
          link = { href: "/login?next=" + encodeURIComponent(location.pathname), text: T("sign_in"), className: "button secondary" };
          break;
      }
      st.busy = false;
      if (code === "rate_limited") {
        // Wait as long as the server asks before the button opens again.
        var wait = (parseInt(res.headers.get("Retry-After"), 10) || 1) * 1000;
        st.busy = "sending";
        setTimeout(function () { st.busy = false; render(); }, wait);
      }
      render();
      show("error", T(errorTexts[code] || "err.generic"), link);
      if (result) result.setAttribute("data-code", code || String(res.status));
    }

    if (grab) grab.addEventListener("click", function () {
      if (grab.disabled || st.busy) return;
      st.busy = "sending";
      render();
      fetch("/api/v1/flash-sales/" + encodeURIComponent(id) + "/purchase", {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ quantity: 1 })
      }).then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (body) {
          if (res.status === 202 && body.ticket) {
            st.won += 1;
            try { sessionStorage.setItem(ticketKey, body.ticket); } catch (e) {}
            show("queued", T("queued"));
            followTicket(body.ticket, Date.now());
            return;
          }
          failed(res, body);
        });
      }, function () {
        st.busy = false;
        render();
        show("error", T("err.network"));
      });
    });

    // A ticket still waiting when the page was reloaded is followed again.
    try {
      var pending = sessionStorage.getItem(ticketKey);
      if (pending) { show("queued", T("queued")); followTicket(pending, Date.now()); }
    } catch (e) {}

    // The reminder goes to the API; the form's own action is the fallback.
    if (remind) remind.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var button = remind.querySelector("button");
      if (button) button.disabled = true;
      fetch("/api/v1/flash-sales/" + encodeURIComponent(id) + "/reminders", {
        method: "POST", credentials: "same-origin", headers: { Accept: "application/json", "X-CSRF-Token": csrf }
      }).then(function (res) {
        if (res.status === 201) {
          var p = document.createElement("p");
          p.className = "muted small fs-reminded";
          p.setAttribute("data-testid", "reminded");
          p.textContent = T("reminded");
          remind.replaceWith(p);
          return;
        }
        if (button) button.disabled = false;
        remind.removeAttribute("data-sent");
        if (res.status === 409) { poll(); return; }
        if (res.status === 401 || res.status === 403) show("error", T(res.status === 401 ? "err.unauthenticated" : "err.forbidden"));
      }, function () {
        if (button) button.disabled = false;
        remind.removeAttribute("data-sent");
        show("error", T("err.network"));
      });
    });

    render();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-flash-sale]").forEach(salePage);
    document.querySelectorAll("[data-include]").forEach(include);
    initFlash(document);
  });
})();

// The search box suggests titles and stall names as the shopper types (the
// browser shows the datalist; without JavaScript the box is a plain search).
(function () {
  var input = document.querySelector("input[data-suggest]");
  var list = input && document.getElementById(input.getAttribute("list"));
  if (!list || !window.fetch) return;
  var timer, last = "";
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var q = input.value.trim();
      if (q === last) return;
      last = q;
      if (!q) { list.replaceChildren(); return; }
      fetch(input.getAttribute("data-suggest") + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { items: [] }; })
        .then(function (body) {
          if (q !== last) return; // a later keystroke has asked again
          list.replaceChildren.apply(list, (body.items || []).map(function (s) {
            var o = document.createElement("option");
            o.value = s.text;
            return o;
          }));
        })
        .catch(function () {});
    }, 150);
  });
})();

// The redeem page scans a pass with the camera: with the browser's
// BarcodeDetector where there is one (Chrome on Android…), else with the
// vendored jsQR decoder (loaded on the redeem page only) on frames of the
// camera drawn into a canvas. The code read is put in the form, which is
// sent as if typed. Without a camera the scanner stays hidden and the code
// is typed.
(function () {
  // nativeDetect reads QR codes with BarcodeDetector; null when it is missing.
  function nativeDetect() {
    if (!("BarcodeDetector" in window)) return null;
    var detector;
    try { detector = new window.BarcodeDetector({ formats: ["qr_code"] }); } catch (e) { return null; }
    return function (video) {
      return detector.detect(video).then(function (codes) { return codes && codes[0] && codes[0].rawValue; });
    };
  }
  // jsQRDetect reads a frame of the video in a canvas with jsQR.
  function jsQRDetect() {
    if (typeof window.jsQR !== "function") return null;
    var canvas = document.createElement("canvas");
    var ctx = canvas.getContext("2d", { willReadFrequently: true });
    if (!ctx) return null;
    return function (video) {
      var w = video.videoWidth, h = video.videoHeight;
      if (!w || !h) return Promise.resolve(null);
      var scale = Math.min(1, 640 / Math.max(w, h)); // enough pixels for a pass held up to the camera
      canvas.width = Math.round(w * scale);
      canvas.height = Math.round(h * scale);
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      var img = ctx.getImageData(0, 0, canvas.width, canvas.height);
      var hit = window.jsQR(img.data, img.width, img.height, { inversionAttempts: "dontInvert" });
      return Promise.resolve(hit && hit.data);
    };
  }
  function scanner(box) {
    var form = document.querySelector("[data-redeem-form]");
    var input = form && form.querySelector("input[name=code]");
    var video = box.querySelector("[data-scan-video]");
    var status = box.querySelector("[data-scan-status]");
    var start = box.querySelector("[data-scan-start]");
    if (!form || !input || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
    var detect = nativeDetect(), native = !!detect;
    detect = detect || jsQRDetect();
    if (!detect) return;
    box.hidden = false;
    box.setAttribute("data-decoder", native ? "native" : "jsqr");
    var stream, busy = false;
    function stop() {
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      stream = null;
      video.removeAttribute("data-on");
      start.hidden = false;
    }
    function again() {
      // jsQR works on the main thread: a few frames a second are enough.
      if (native) requestAnimationFrame(tick); else setTimeout(tick, 120);
    }
    function tick() {
      if (!stream || busy) return;
      busy = true;
      detect(video).then(function (hit) {
        busy = false;
        if (hit) {
          stop();
          input.value = String(hit).trim();
          if (form.requestSubmit) form.requestSubmit(); else form.submit();
          return;
        }
        again();
      }, function () { busy = false; again(); });
    }
    start.addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
        stream = s;
        video.srcObject = s;
        video.setAttribute("data-on", "");
        start.hidden = true;
        status.textContent = box.getAttribute("data-scanning") || status.textContent;
        return video.play();
      }).then(tick, function () {
        stop();
        status.textContent = box.getAttribute("data-no-camera") || status.textContent;
        input.focus();
      });
    });
    window.addEventListener("pagehide", stop);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-redeem-scanner]").forEach(scanner);
  });
})();

// The installable app and sharing: the service worker that keeps the fair
// pass and orders for use without signal (emptied on signing out), the list
// of what it kept on the offline page, and the share bar — the system share
// sheet or a copied link, and the share poster drawn on a canvas from the
// page's card and QR code, shown as a picture to long-press and save.
(function () {
  "use strict";
  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js").catch(function () {});
    });
  }
  // Signing out, or in as someone (perhaps else), forgets the kept pages
  // first, then sends the form: a shared phone never shows one account's
  // pass to the next.
  var forgets = { "/logout": true, "/login": true, "/register": true };
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (!f || !f.getAttribute || !forgets[f.getAttribute("action")] || !window.caches || f.hasAttribute("data-forgetting")) return;
    e.preventDefault();
    e.stopImmediatePropagation();
    f.setAttribute("data-forgetting", "");
    caches.delete("miaohui-pages").catch(function () {}).then(function () { HTMLFormElement.prototype.submit.call(f); });
  }, true);

  function offlineList(ul) {
    if (!window.caches) return;
    // has() first: open() would make the cache that signing out removed.
    caches.has("miaohui-pages").then(function (kept) {
      return kept ? caches.open("miaohui-pages").then(function (c) { return c.keys(); }) : [];
    }).then(function (reqs) {
      reqs.forEach(function (r) {
        var path = new URL(r.url).pathname;
        var label = /\/pass$/.test(path) ? ul.getAttribute("data-pass-label") : path === "/orders" ? ul.getAttribute("data-orders-label") : "";
        if (!label) return;
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = path;
        a.className = "button secondary";
        a.textContent = label + (/\/pass$/.test(path) ? " · " + decodeURIComponent(path.split("/")[2]) : "");
        li.appendChild(a);
        ul.appendChild(li);
      });
    });
  }

  function loadImage(src) {
    return new Promise(function (resolve) {
      if (!src) { resolve(null); return; }
      var img = new Image();
      img.onload = function () { resolve(img); };
      img.onerror = function () { resolve(null); };
      img.src = src;
    });
  }

  // wrap splits text into lines no wider than width on ctx.
  function wrap(ctx, text, width, max) {
    var lines = [], line = "";
    Array.from(text).forEach(function (ch) {
      if (ctx.measureText(line + ch).width > width && line) { lines.push(line); line = ""; }
      line += ch;
    });
    if (line) lines.push(line);
    if (lines.length > max) { lines = lines.slice(0, max); lines[max - 1] = lines[max - 1].slice(0, -1) + "…"; }
    return lines;
  }

  function poster(box) {
    var W = 750, H = 1200, pad = 48;
    var canvas = document.createElement("canvas");
    canvas.width = W; canvas.height = H;
    var ctx = canvas.getContext("2d");
    return Promise.all([loadImage(box.getAttribute("data-image")), loadImage(box.getAttribute("data-qr"))]).then(function (imgs) {
      var pic = imgs[0], qr = imgs[1];
      ctx.fillStyle = "#fbf3e4"; ctx.fillRect(0, 0, W, H);
      ctx.fillStyle = "#c81e1e"; ctx.fillRect(0, 0, W, 96);
      ctx.fillStyle = "#fff"; ctx.font = "bold 40px sans-serif"; ctx.textBaseline = "middle";
      ctx.fillText(box.getAttribute("data-brand") || "", pad, 48);
      var top = 96 + pad, side = W - 2 * pad;
      if (pic) {
        var s = Math.max(side / pic.naturalWidth, side / pic.naturalHeight);
        var sw = side / s, sh = side / s;
        ctx.drawImage(pic, (pic.naturalWidth - sw) / 2, (pic.naturalHeight - sh) / 2, sw, sh, pad, top, side, side * 0.75);
      } else {
        ctx.fillStyle = "#f3dcc0"; ctx.fillRect(pad, top, side, side * 0.75);
      }
      var y = top + side * 0.75 + 64;
      ctx.fillStyle = "#2b1d14"; ctx.font = "bold 44px sans-serif"; ctx.textBaseline = "alphabetic";
      wrap(ctx, box.getAttribute("data-title") || "", side, 2).forEach(function (l) { ctx.fillText(l, pad, y); y += 60; });
      ctx.fillStyle = "#c81e1e"; ctx.font = "bold 36px sans-serif";
      wrap(ctx, box.getAttribute("data-price") || "", side, 2).forEach(function (l) { ctx.fillText(l, pad, y); y += 50; });
      if (qr) ctx.drawImage(qr, W - pad - 220, H - pad - 220, 220, 220);
      ctx.fillStyle = "#6b5a4e"; ctx.font = "28px sans-serif";
      wrap(ctx, box.getAttribute("data-caption") || "", W - 3 * pad - 220, 3).forEach(function (l, i) { ctx.fillText(l, pad, H - pad - 150 + i * 40); });
      return canvas.toDataURL("image/png");
    });
  }

  function shareBar(box) {
    var status = box.querySelector("[data-share-status]");
    var url = box.getAttribute("data-url"), title = box.getAttribute("data-title");
    box.querySelector("[data-share-link]").addEventListener("click", function () {
      if (navigator.share) {
        navigator.share({ title: title, url: url }).catch(function () {});
        return;
      }
      var done = function () { status.textContent = box.getAttribute("data-copied"); };
      if (navigator.clipboard) navigator.clipboard.writeText(url).then(done, function () { status.textContent = url; });
      else status.textContent = url;
    });
    box.querySelector("[data-share-poster]").addEventListener("click", function () {
      poster(box).then(function (src) {
        var fig = box.querySelector("[data-poster]");
        fig.querySelector("img").src = src;
        fig.hidden = false;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-offline-list]").forEach(offlineList);
    document.querySelectorAll("[data-share]").forEach(shareBar);
  });
})();

// Organizer console: a "select all" box ticks every row box of its form
// (data-select-all names the form the row boxes belong to).
(function () {
  document.addEventListener("change", function (ev) {
    var form = ev.target.getAttribute && ev.target.getAttribute("data-select-all");
    if (!form) return;
    document.querySelectorAll('input[type="checkbox"][form="' + form + '"]').forEach(function (box) {
      box.checked = ev.target.checked;
    });
  });
})();

// ---- Add to cart without leaving the page ----
// Forms marked data-add-to-cart are sent with fetch (the same form, asking
// for JSON): the tab bar's cart count changes and a toast says what
// happened. When the cart holds another fair's items, the page's offer to
// empty it and add this one comes up. Without JavaScript, or when the answer
// is not JSON (the sign-in page, say), the form is sent as it is.
(function () {
  "use strict";
  if (!window.fetch || !window.FormData || !window.URLSearchParams) return;
  var timer = null;

  function toast(message, ok, withLink) {
    var box = document.querySelector("[data-toast]");
    if (!box) return;
    box.textContent = message;
    box.className = "toast" + (ok ? "" : " error");
    if (withLink) {
      var a = document.createElement("a");
      a.href = "/cart";
      a.textContent = box.getAttribute("data-view-cart");
      a.setAttribute("data-testid", "toast-cart-link");
      box.appendChild(a);
    }
    box.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(function () { box.hidden = true; }, 4000);
  }

  function setCount(count) {
    var tab = document.querySelector("[data-cart-tab]");
    if (!tab) return;
    var badge = tab.querySelector(".badge");
    var suffix = badge && badge.nextElementSibling && badge.nextElementSibling.classList.contains("sr-only") ? badge.nextElementSibling : null;
    if (!count) {
      if (badge) badge.remove();
      if (suffix) suffix.remove();
      return;
    }
    if (!badge) {
      badge = document.createElement("span");
      badge.className = "badge";
      badge.setAttribute("data-testid", "cart-count");
      tab.appendChild(badge);
      suffix = document.createElement("span");
      suffix.className = "sr-only";
      suffix.textContent = tab.getAttribute("data-suffix") || "";
      tab.appendChild(suffix);
    }
    badge.textContent = count;
  }

  function release(form) {
    form.removeAttribute("data-sent");
    form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.hasAttribute || !form.hasAttribute("data-add-to-cart") || ev.defaultPrevented) return;
    ev.preventDefault();
    if (form.getAttribute("data-busy")) return;
    form.setAttribute("data-busy", "1");
    var body = new URLSearchParams(new FormData(form));
    fetch(form.action, {
      method: "POST", body: body, credentials: "same-origin", cache: "no-store",
      headers: { Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" }
    }).then(function (res) {
      var type = res.headers.get("Content-Type") || "";
      if (res.redirected || type.indexOf("application/json") < 0) throw new Error("not json");
      return res.json();
    }).then(function (r) {
      form.removeAttribute("data-busy");
      release(form);
      setCount(r.count);
      toast(r.message, r.ok, r.ok);
      var sw = document.querySelector("[data-testid=switch-fair]");
      if (sw) sw.hidden = r.code !== "other_fair";
    }).catch(function () {
      // Let the browser send the form itself.
      form.removeAttribute("data-busy");
      form.removeAttribute("data-add-to-cart");
      HTMLFormElement.prototype.submit.call(form);
    });
  });
})();
