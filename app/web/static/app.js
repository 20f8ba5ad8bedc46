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
