/* Fenghuo dashboard: a little vanilla JavaScript (ES5, for old office PCs).
   Pages work without it; it adds self-refreshing boards, the live recipient
   count on the alert form, confirmations and the print button. */
(function () {
  'use strict';
  var csrf = document.body.getAttribute('data-csrf') || '';

  function each(list, fn) {
    for (var i = 0; i < list.length; i++) { fn(list[i]); }
  }

  /* Sections with data-refresh reload themselves while the server says the
     alert is still open (x-fenghuo-active). A response without that header
     (e.g. the sign-in page after the session ended) is never shown. A board
     that sends an ETag is asked with If-None-Match: 304, nothing changed. */
  function refresh(el) {
    var url = el.getAttribute('data-refresh');
    var every = (parseInt(el.getAttribute('data-every'), 10) || 5) * 1000;
    var etag = null;
    function tick() {
      var x = new XMLHttpRequest();
      x.open('GET', url);
      if (etag) { x.setRequestHeader('If-None-Match', etag); }
      x.onload = function () {
        var active = x.getResponseHeader('x-fenghuo-active');
        if (x.status === 304 && active !== null) {
          el.setAttribute('data-updated', String(new Date().getTime()));
          if (active === '0') { return; }
        } else if (x.status === 200 && active !== null) {
          etag = x.getResponseHeader('ETag');
          el.innerHTML = x.responseText;
          label(el);
          el.setAttribute('data-updated', String(new Date().getTime()));
          if (active === '0') { return; }
        }
        setTimeout(tick, every);
      };
      /* Offline or daemon restarting: keep trying, more slowly. */
      x.onerror = function () { setTimeout(tick, every * 3); };
      x.send();
    }
    setTimeout(tick, every);
  }
  /* List tables reflow on a phone (app.css): each cell is labelled with its
     column's head, so a row read as a card still says what each value is.
     Column positions count colspans; a table with several head rows or
     none is left as it is (it scrolls inside itself on a phone). */
  function label(root) {
    each(root.querySelectorAll('table.grid'), function (t) {
      if (/(^| )stack( |$)/.test(t.className) || t.getAttribute('data-nostack') !== null || !t.tHead || t.tHead.rows.length !== 1) { return; }
      var heads = [];
      each(t.tHead.rows[0].cells, function (c) {
        var n = c.colSpan || 1;
        for (var k = 0; k < n; k++) { heads.push((c.textContent || '').replace(/\s+/g, ' ').trim()); }
      });
      var bodies = [];
      each(t.tBodies, function (body) { bodies.push(body); });
      if (t.tFoot) { bodies.push(t.tFoot); }
      each(bodies, function (body) {
        each(body.rows, function (row) {
          var col = 0;
          each(row.cells, function (c) {
            var n = c.colSpan || 1;
            var h = heads[col];
            /* A cell across columns ("none", a total) says what it is itself. */
            if (h && n === 1 && c.tagName === 'TD' && !c.hasAttribute('data-label')) { c.setAttribute('data-label', h); }
            col += n;
          });
        });
      });
      t.className += ' stack';
    });
  }
  label(document);

  each(document.querySelectorAll('[data-refresh]'), refresh);

  /* A confirmation on the form, or on the button pressed (a form with an
     exercise and a real button asks only for the real one). */
  var pressed = null;
  document.addEventListener('click', function (e) {
    var b = e.target;
    while (b && b.tagName !== 'BUTTON' && b.tagName !== 'INPUT') { b = b.parentNode; }
    pressed = (b && b.type === 'submit') ? b : null;
  }, true);
  document.addEventListener('submit', function (e) {
    var f = e.target;
    var b = e.submitter || pressed;
    var msg = (b && b.form === f && b.getAttribute('data-confirm')) ||
      (f.getAttribute && f.getAttribute('data-confirm'));
    pressed = null;
    if (msg && !window.confirm(msg)) { e.preventDefault(); }
  }, true);

  each(document.querySelectorAll('[data-print]'), function (b) {
    b.addEventListener('click', function () { window.print(); });
  });

  function encode(form) {
    var parts = [];
    each(form.elements, function (el) {
      if (!el.name || el.disabled) { return; }
      if ((el.type === 'checkbox' || el.type === 'radio') && !el.checked) { return; }
      if (el.type === 'submit' || el.type === 'button') { return; }
      parts.push(encodeURIComponent(el.name) + '=' + encodeURIComponent(el.value));
    });
    return parts.join('&');
  }

  /* Alert form: recipients and SMS parts, counted by the server as typed. */
  var compose = document.getElementById('compose');
  var out = document.getElementById('live-preview');
  if (compose && out) {
    var timer = null;
    var update = function () {
      var x = new XMLHttpRequest();
      x.open('POST', '/web/alerts/preview');
      x.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
      x.setRequestHeader('X-CSRF-Token', csrf);
      x.onload = function () {
        var r;
        try { r = JSON.parse(x.responseText); } catch (err) { return; }
        out.innerHTML = '';
        var p = document.createElement('p');
        if (r.ok) {
          var b1 = document.createElement('b');
          b1.id = 'preview-recipients';
          b1.textContent = String(r.recipients);
          var b2 = document.createElement('b');
          b2.id = 'preview-parts';
          b2.textContent = String(r.parts);
          p.appendChild(b1);
          p.appendChild(document.createTextNode(' ' + out.getAttribute('data-l-recipients') + ' · '));
          p.appendChild(b2);
          p.appendChild(document.createTextNode(' ' + out.getAttribute('data-l-parts') + ' (' + r.encoding_words + ')'));
        } else {
          var e0 = r.errors && r.errors[0];
          p.textContent = e0 ? (e0.label + '：' + e0.message) : out.getAttribute('data-l-none');
        }
        out.appendChild(p);
      };
      x.send(encode(compose));
    };
    var later = function () {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(update, 400);
    };
    /* A message template picked fills title, text and channels at once;
       without JavaScript its button asks the server (?template=ID). */
    var pick = document.getElementById('f-template');
    if (pick) {
      pick.addEventListener('change', function () {
        var o = pick.options[pick.selectedIndex];
        if (!o || !o.getAttribute('data-title')) { return; }
        document.getElementById('f-title').value = o.getAttribute('data-title');
        document.getElementById('f-body').value = o.getAttribute('data-body');
        var want = ',' + (o.getAttribute('data-channels') || '') + ',';
        each(compose.querySelectorAll('input[name=channels]'), function (c) {
          c.checked = want.indexOf(',' + c.value + ',') >= 0;
        });
        later();
      });
    }
    compose.addEventListener('input', later);
    compose.addEventListener('change', later);
    update();
  }
})();
