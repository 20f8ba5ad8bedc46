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
});
document.addEventListener("change", function (ev) {
  var t = ev.target;
  if (t.name === "fulfillment" && t.form && t.form.hasAttribute("data-fulfil-form")) syncFulfilForm(t.form);
  // Filters apply as soon as they change.
  if (t.form && t.form.hasAttribute("data-autosubmit") && t.tagName === "SELECT") t.form.submit();
});
