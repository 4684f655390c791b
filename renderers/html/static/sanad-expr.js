/* Sanad expression evaluator for the browser (docs/expressions.md).
 *
 * The server parses and type-checks every expression and exports it as a JSON AST; this file
 * compiles such an AST once into nested closures and evaluates it against a record's values with
 * exactly the semantics of engine/values.py and engine/expression.py (the conformance vectors in
 * tests/conformance/expressions.yaml hold for both; `node --test tests/js/` checks them).
 *
 * A classic script: it sets `globalThis.SanadExpr` (so `window.SanadExpr` in a page) and has no
 * dependencies. Node tests load it with `await import(...)` or `vm.runInThisContext`.
 *
 *   const fn = SanadExpr.compile(ast);
 *   fn({v: values, up: [parentValues, ...], today: 'YYYY-MM-DD', dot: '', choice: null});
 *
 * Values: '' (unanswered), numbers, strings (texts, dates as ISO text), booleans, arrays of strings
 * (select_multiple) and arrays of row objects (subforms).
 */
(function (root) {
  'use strict';

  var hasOwn = Object.prototype.hasOwnProperty;
  var isArray = Array.isArray;

  // Python's str.isspace() characters (what `\s` matches in a Python str pattern and what
  // str.split()/str.strip() use); JS's \s differs (it adds U+FEFF and lacks U+001C-1F, U+0085).
  var PY_WS = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
  var NUMERIC = new RegExp('^[' + PY_WS + ']*(-?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+))[' + PY_WS + ']*$');
  var SPLIT_WS = new RegExp('[' + PY_WS + ']+');
  var TWO53 = 9007199254740992;

  // -------------------------------------------------------------------------------------------
  // Values (engine/values.py)
  // -------------------------------------------------------------------------------------------

  /** Truth of a value: '', false, 0 and an empty list are false. */
  function truth(v) {
    if (v === true) return true;
    if (v === false) return false;
    if (typeof v === 'string') return v !== '';
    if (typeof v === 'number') return v !== 0 && v === v;
    if (v === null || v === undefined) return false;
    if (isArray(v)) return v.length > 0;
    return true;
  }

  function isNumber(v) {
    return typeof v === 'number';
  }

  /** The number `v` stands for, or null ('', booleans, lists and texts that do not read as one). */
  function asNumber(v) {
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && v !== '') {
      var m = NUMERIC.exec(v);
      if (m !== null) return +m[1];
    }
    return null;
  }

  /** Python's tidy(): a non-finite result is unanswered (''); -0 becomes 0. */
  function tidy(n) {
    return n - n === 0 ? n + 0 : '';
  }

  // [digits, exponent] with |x| = digits × 10^exponent, from the shortest round-trip text of x
  // (the same digits as Python's repr()). Zero is ['0', 0].
  function decimalParts(x) {
    var s = String(x < 0 ? -x : x);
    var exp = 0;
    var e = s.indexOf('e');
    if (e >= 0) {
      exp = +s.slice(e + 1);
      s = s.slice(0, e);
    }
    var dot = s.indexOf('.');
    if (dot >= 0) {
      exp -= s.length - dot - 1;
      s = s.slice(0, dot) + s.slice(dot + 1);
    }
    var i = 0;
    while (i < s.length - 1 && s.charCodeAt(i) === 48) i++;
    s = s.slice(i);
    var j = s.length;
    while (j > 1 && s.charCodeAt(j - 1) === 48) j--;
    exp += s.length - j;
    s = s.slice(0, j);
    if (s === '0') exp = 0;
    return [s, exp];
  }

  /** A number as Python's str(tidy(n)) writes it: 2 not 2.0, 1.5, 1e-05 (never '2.0'). */
  function formatNumber(n) {
    if (n - n !== 0) return ''; // inf/nan: tidy() makes them ''
    if (n === Math.floor(n)) {
      if (n < TWO53 && n > -TWO53) return String(n); // String(-0) is '0'
      return BigInt(n).toString(); // a Python int prints all its digits
    }
    if (n < 1e-4 && n > -1e-4) {
      var p = decimalParts(n);
      var d = p[0];
      var e = p[1] + d.length - 1;
      var a = e < 0 ? -e : e;
      return (
        (n < 0 ? '-' : '') +
        d.charAt(0) +
        (d.length > 1 ? '.' + d.slice(1) : '') +
        (e < 0 ? 'e-' : 'e+') +
        (a < 10 ? '0' : '') +
        a
      );
    }
    return String(n);
  }

  // Python repr() of a string, as far as it matters here (rows turned into text).
  var NONPRINT = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;
  function reprStr(s) {
    var q = s.indexOf("'") >= 0 && s.indexOf('"') < 0 ? '"' : "'";
    var out = q;
    for (var ch of s) {
      var c = ch.codePointAt(0);
      if (ch === q || ch === '\\') out += '\\' + ch;
      else if (ch === '\t') out += '\\t';
      else if (ch === '\n') out += '\\n';
      else if (ch === '\r') out += '\\r';
      else if (c !== 32 && (c < 32 || c === 127 || NONPRINT.test(ch))) {
        var h = c.toString(16);
        if (c < 0x100) out += '\\x' + ('00' + h).slice(-2);
        else if (c < 0x10000) out += '\\u' + ('0000' + h).slice(-4);
        else out += '\\U' + ('00000000' + h).slice(-8);
      } else out += ch;
    }
    return out + q;
  }

  /** Python's repr() of a JSON-like value (used when rows or odd list items become text). */
  function pyRepr(v) {
    if (typeof v === 'string') return reprStr(v);
    if (typeof v === 'number') {
      if (v - v !== 0) return v !== v ? 'nan' : v > 0 ? 'inf' : '-inf';
      return formatNumber(v);
    }
    if (v === true) return 'True';
    if (v === false) return 'False';
    if (v === null || v === undefined) return 'None';
    if (isArray(v)) return '[' + v.map(pyRepr).join(', ') + ']';
    var parts = [];
    for (var k in v) if (hasOwn.call(v, k)) parts.push(reprStr(k) + ': ' + pyRepr(v[k]));
    return '{' + parts.join(', ') + '}';
  }

  /** Python's str() of a list item. */
  function pyStr(v) {
    return typeof v === 'string' ? v : pyRepr(v);
  }

  /** A value as text: numbers without '.0', true/false, a multiple choice as 'a b'. */
  function textOf(v) {
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return formatNumber(v);
    if (v === true) return 'true';
    if (v === false) return 'false';
    if (v === null || v === undefined) return '';
    if (isArray(v)) {
      var out = '';
      for (var i = 0; i < v.length; i++) out += (i ? ' ' : '') + pyStr(v[i]);
      return out;
    }
    return pyRepr(v);
  }

  // Python's == on JSON-like values (only reached for two rows compared with each other).
  function pyEqual(a, b) {
    if (a === b) return true;
    var na = typeof a === 'number' || typeof a === 'boolean';
    var nb = typeof b === 'number' || typeof b === 'boolean';
    if (na || nb) return na && nb && +a === +b;
    if (a === null || b === null || a === undefined || b === undefined) return a == b; // eslint-disable-line eqeqeq
    if (typeof a !== 'object' || typeof b !== 'object') return false;
    if (isArray(a) !== isArray(b)) return false;
    if (isArray(a)) {
      if (a.length !== b.length) return false;
      for (var i = 0; i < a.length; i++) if (!pyEqual(a[i], b[i])) return false;
      return true;
    }
    var ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    for (var j = 0; j < ka.length; j++) {
      if (!hasOwn.call(b, ka[j]) || !pyEqual(a[ka[j]], b[ka[j]])) return false;
    }
    return true;
  }

  /** Strings compared by code point (JS's < compares UTF-16 code units): -1, 0 or 1. */
  function compareText(a, b) {
    if (a === b) return 0;
    var n = a.length < b.length ? a.length : b.length;
    for (var i = 0; i < n; i++) {
      var x = a.charCodeAt(i);
      var y = b.charCodeAt(i);
      if (x !== y) {
        if (x >= 0xd800 && y >= 0xd800) {
          // surrogates (astral code points) sort after U+E000-U+FFFF
          x = x < 0xe000 ? x + 0x2000 : x - 0x800;
          y = y < 0xe000 ? y + 0x2000 : y - 0x800;
        }
        return x < y ? -1 : 1;
      }
    }
    return a.length < b.length ? -1 : 1;
  }

  /** Equality (`=`) as docs/expressions.md defines it. */
  function eq(a, b) {
    if (a === null || a === undefined) a = '';
    if (b === null || b === undefined) b = '';
    var ta = typeof a;
    var tb = typeof b;
    if (ta === tb && ta !== 'object') return a === b;
    if (ta === 'boolean' || tb === 'boolean') return truth(a) === truth(b);
    var la = isArray(a);
    var lb = isArray(b);
    if (la || lb) {
      if (la && lb) {
        if (a.length !== b.length) return false;
        var sa = a.map(pyStr).sort();
        var sb = b.map(pyStr).sort();
        for (var i = 0; i < sa.length; i++) if (sa[i] !== sb[i]) return false;
        return true;
      }
      var lst = la ? a : b;
      var other = la ? b : a;
      if (other === '') return lst.length === 0;
      return lst.length === 1 && pyStr(lst[0]) === textOf(other);
    }
    if (ta === 'object' && tb === 'object') return pyEqual(a, b);
    if (ta === 'number' || tb === 'number') {
      var x = asNumber(a);
      var y = asNumber(b);
      return x !== null && y !== null && x === y;
    }
    return textOf(a) === textOf(b);
  }

  /** Ordering: -1, 0 or 1, or null when the two cannot be ordered ('' on either side, ...). */
  function order(a, b) {
    if (a === '' || b === '' || a === null || b === null || a === undefined || b === undefined) return null;
    var ta = typeof a;
    var tb = typeof b;
    if (isArray(a) || isArray(b)) return null;
    var x, y;
    if (ta === 'boolean' || tb === 'boolean') {
      // a boolean orders as a number (true 1, false 0), as in XPath
      x = ta === 'boolean' ? +a : asNumber(a);
      y = tb === 'boolean' ? +b : asNumber(b);
      if (x === null || y === null) return null;
      return x > y ? 1 : x < y ? -1 : 0;
    }
    if (ta === 'number' || tb === 'number') {
      x = asNumber(a);
      y = asNumber(b);
      if (x === null || y === null) return null;
      return x > y ? 1 : x < y ? -1 : 0;
    }
    if (ta === 'string' && tb === 'string') {
      x = asNumber(a);
      if (x !== null) {
        y = asNumber(b);
        if (y !== null) return x > y ? 1 : x < y ? -1 : 0;
      }
      return compareText(a, b);
    }
    return null;
  }

  /** Arithmetic: '+', '-', '*', 'div', 'mod'; '' when a side is not a number, or on x/0. */
  function arith(op, a, b) {
    var x = asNumber(a);
    var y = asNumber(b);
    if (x === null || y === null) return op === '+' || op === '-' ? dateArith(op, a, b) : '';
    switch (op) {
      case '+':
        return tidy(x + y);
      case '-':
        return tidy(x - y);
      case '*':
        return tidy(x * y);
      case 'div':
        return y === 0 ? '' : tidy(x / y);
      case 'mod':
        return y === 0 ? '' : tidy(x % y); // % is C's fmod: the sign of the dividend
      default:
        throw new Error('unknown operator ' + op);
    }
  }

  function negate(a) {
    var x = asNumber(a);
    return x === null ? '' : tidy(-x);
  }

  // Dates ------------------------------------------------------------------------------------

  function digit(s, i) {
    var c = s.charCodeAt(i) - 48;
    return c >= 0 && c <= 9 ? c : -100000;
  }

  function daysInMonth(y, m) {
    if (m === 2) return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28;
    return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
  }

  /** A date (or the date of a date-time) as y*10000 + m*100 + d, or null if it is not one. */
  function parseDate(v) {
    if (typeof v !== 'string' || v.length < 10 || v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45) return null;
    var y = digit(v, 0) * 1000 + digit(v, 1) * 100 + digit(v, 2) * 10 + digit(v, 3);
    var m = digit(v, 5) * 10 + digit(v, 6);
    var d = digit(v, 8) * 10 + digit(v, 9);
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) return null;
    return y * 10000 + m * 100 + d;
  }

  // days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil)
  function dayNumber(ymd) {
    var y = Math.floor(ymd / 10000);
    var m = Math.floor(ymd / 100) % 100;
    var d = ymd % 100;
    if (m <= 2) y -= 1;
    var era = Math.floor(y / 400);
    var yoe = y - era * 400;
    var doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
    var doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
    return era * 146097 + doe - 719468;
  }

  var lastToday = null;
  var lastTodayYmd = null;
  function parseToday(t) {
    if (t !== lastToday) {
      lastTodayYmd = parseDate(t);
      lastToday = t;
    }
    return lastTodayYmd;
  }

  function wholeYears(from, to) {
    // from <= to, both y*10000+m*100+d: the birthday rule of age()
    return Math.floor(to / 10000) - Math.floor(from / 10000) - (to % 10000 < from % 10000 ? 1 : 0);
  }

  /** Whole years from date d to today (born on 29 February: a year older on 1 March). */
  function age(d, today) {
    var born = parseDate(d);
    var now = parseToday(today);
    if (born === null || now === null) return '';
    return wholeYears(born, now);
  }

  function yearsBetween(a, b) {
    var d1 = parseDate(a);
    var d2 = parseDate(b);
    if (d1 === null || d2 === null) return '';
    return d2 < d1 ? 0 - wholeYears(d2, d1) : wholeYears(d1, d2);
  }

  function daysBetween(a, b) {
    var d1 = parseDate(a);
    var d2 = parseDate(b);
    if (d1 === null || d2 === null) return '';
    return dayNumber(d2) - dayNumber(d1);
  }

  /** Days since 1970-01-01 of a date (a date-time counts by its date), or null. */
  function dayNumberOf(v) {
    var d = parseDate(v);
    return d === null ? null : dayNumber(d);
  }

  // H. Hinnant's civil_from_days: the date `n` days after 1970-01-01 ('' before year 1 or after 9999)
  function dateOfDay(v) {
    var x = asNumber(v);
    if (x === null) return '';
    var z = Math.floor(x);
    if (z < -719162 || z > 2932896) return '';
    z += 719468;
    var era = Math.floor(z / 146097);
    var doe = z - era * 146097;
    var yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
    var doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
    var mp = Math.floor((5 * doy + 2) / 153);
    var d = doy - Math.floor((153 * mp + 2) / 5) + 1;
    var m = mp < 10 ? mp + 3 : mp - 9;
    var y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    return ('000' + y).slice(-4) + '-' + (m < 10 ? '0' : '') + m + '-' + (d < 10 ? '0' : '') + d;
  }

  /** A date plus or minus days is a date; a date minus a date is a number of days. */
  function dateArith(op, a, b) {
    var da = dayNumberOf(a);
    var db = dayNumberOf(b);
    var x = asNumber(a);
    var y = asNumber(b);
    if (da !== null && db !== null) return op === '-' ? da - db : '';
    if (da !== null && y !== null) return dateOfDay(op === '+' ? da + y : da - y);
    if (db !== null && x !== null && op === '+') return dateOfDay(x + db);
    return '';
  }

  /** date(): a number is a day count since 1970-01-01; a text is read as a date (values.date_of). */
  function dateOf(v) {
    if (isNumber(v)) return dateOfDay(v);
    var d = parseDate(v);
    return d === null ? '' : v.slice(0, 10);
  }

  var DATETIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]+)?)?)?/;

  /** decimal-date-time(): days since 1970-01-01T00:00:00 with the time of day as a fraction. */
  function decimalDateTime(v) {
    var d = dayNumberOf(v);
    if (d === null) return '';
    var m = DATETIME.exec(v);
    var hh = m && m[1] ? +m[1] : 0;
    var mm = m && m[2] ? +m[2] : 0;
    var ss = m && m[3] ? +m[3] : 0;
    if (hh > 23 || mm > 59 || ss > 59) return '';
    return tidy(d + (hh * 3600 + mm * 60 + ss) / 86400);
  }

  /** date-time(): the date-time n days after 1970-01-01T00:00:00, to the nearest second (values.date_time). */
  function dateTime(v) {
    var n = asNumber(v);
    if (n === null) {
      if (parseDate(v) === null) return '';
      n = decimalDateTime(v);
      if (n === '') return '';
    }
    var seconds = Math.floor(n * 86400 + 0.5);
    if (!isFinite(seconds)) return '';
    var days = Math.floor(seconds / 86400);
    var rest = seconds - days * 86400;
    var day = dateOfDay(days);
    if (day === '') return '';
    return day + 'T' + pad2(Math.floor(rest / 3600)) + ':' + pad2(Math.floor(rest / 60) % 60) + ':' + pad2(rest % 60);
  }

  /** now(): the current local date-time when `today` is the browser's date (or unknown), else the
   * midnight that starts `today` (values.now_at). */
  function nowAt(today) {
    var t = new Date();
    var day = ('000' + t.getFullYear()).slice(-4) + '-' + pad2(t.getMonth() + 1) + '-' + pad2(t.getDate());
    if (!today || today === day) {
      return day + 'T' + pad2(t.getHours()) + ':' + pad2(t.getMinutes()) + ':' + pad2(t.getSeconds());
    }
    return parseDate(today) === null ? '' : today.slice(0, 10) + 'T00:00:00';
  }

  /** uuid(): a random (version 4) UUID. */
  function uuid4() {
    var c = typeof crypto !== 'undefined' ? crypto : null;
    if (c && typeof c.randomUUID === 'function') return c.randomUUID();
    var b = new Array(16);
    for (var i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    if (c && typeof c.getRandomValues === 'function') b = Array.from(c.getRandomValues(new Uint8Array(16)));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = b.map(function (x) {
      return (x < 16 ? '0' : '') + x.toString(16);
    }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  /** jr:choice-name(): the label of the option whose value is v ('' when there is none). */
  function choiceLabel(v, labels) {
    if (isArray(v) || typeof v === 'boolean' || v === '' || v === null || v === undefined) return '';
    var t = textOf(v);
    return labels && hasOwn.call(labels, t) ? labels[t] : '';
  }

  // Numbers ----------------------------------------------------------------------------------

  var DECIMAL_PREC = 28; // Python's default decimal context
  var DECIMAL_EMAX = 999999;

  /** round(x, n): half away from zero on the decimal text of x (Python's
   * Decimal(repr(x)).quantize(Decimal(1).scaleb(-n), ROUND_HALF_UP)). */
  function roundHalfAway(x, digits) {
    var n = asNumber(x);
    var dd = asNumber(digits === undefined ? 0 : digits);
    if (n === null || dd === null) return '';
    var q = -Math.trunc(dd); // the exponent to quantize to
    if (q > 2 * (DECIMAL_EMAX + DECIMAL_PREC) || q < -2 * (DECIMAL_EMAX + DECIMAL_PREC)) return ''; // scaleb() refuses
    if (q > DECIMAL_EMAX) return ''; // Python raises decimal.Overflow here (an uncaught exception)
    if (n - n !== 0) return '';
    var p = decimalParts(n);
    var ds = p[0];
    var e = p[1];
    var zero = ds === '0';
    var coeff;
    var count;
    if (e >= q) {
      if (zero) return 0;
      count = ds.length + (e - q);
      return count > DECIMAL_PREC ? '' : tidy(n);
    }
    var drop = q - e;
    if (drop > ds.length) return 0; // every digit goes, and the first one dropped is a 0
    var keep = ds.slice(0, ds.length - drop);
    var up = ds.charCodeAt(ds.length - drop) >= 53; // '5'
    if (up) {
      // add one to the kept digits
      var arr = keep.split('');
      var k = arr.length - 1;
      while (k >= 0 && arr[k] === '9') arr[k--] = '0';
      if (k >= 0) arr[k] = String.fromCharCode(arr[k].charCodeAt(0) + 1);
      else arr.unshift('1');
      coeff = arr.join('');
    } else {
      coeff = keep === '' ? '0' : keep;
    }
    var i = 0;
    while (i < coeff.length - 1 && coeff.charCodeAt(i) === 48) i++;
    coeff = coeff.slice(i);
    if (coeff === '0') return 0;
    if (coeff.length > DECIMAL_PREC) return '';
    return tidy((n < 0 ? -1 : 1) * +(coeff + 'e' + q));
  }

  function trunc(x) {
    var n = asNumber(x);
    return n === null ? '' : Math.trunc(n) + 0;
  }

  /** Number of code points (Python len()). */
  function stringLength(s) {
    var n = s.length;
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        var d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          n--;
          i++;
        }
      }
    }
    return n;
  }

  // Functions of numbers and texts (engine/expressions/values.py) -----------------------------

  function number(v) {
    if (v === true) return 1;
    if (v === false) return 0;
    var n = asNumber(v);
    if (n !== null) return n;
    var d = dayNumberOf(v);
    return d === null ? '' : d;
  }
  function numFn(f) {
    return function (v) {
      var n = asNumber(v);
      return n === null ? '' : f(n);
    };
  }
  var floor = numFn(function (n) {
    return Math.floor(n) + 0;
  });
  var absolute = numFn(function (n) {
    return tidy(Math.abs(n));
  });
  var sqrt = numFn(function (n) {
    return n < 0 ? '' : tidy(Math.sqrt(n));
  });
  var log = numFn(function (n) {
    return n <= 0 ? '' : tidy(Math.log(n));
  });
  // ODK's trigonometry and exponentials: unanswered outside their domain (values._unary)
  function unary(op) {
    return numFn(function (n) {
      return tidy(op(n));
    });
  }
  var log10 = numFn(function (n) {
    return n <= 0 ? '' : tidy(Math.log10(n));
  });
  function atan2(a, b) {
    var y = asNumber(a);
    var x = asNumber(b);
    return x === null || y === null ? '' : tidy(Math.atan2(y, x));
  }
  function power(a, b) {
    var x = asNumber(a);
    var y = asNumber(b);
    if (x === null || y === null) return '';
    if (x === 0 && y < 0) return '';
    return tidy(Math.pow(x, y));
  }
  function booleanFromString(v) {
    var t = textOf(v);
    return t === 'true' || t === '1';
  }
  function index(v) {
    var n = asNumber(v);
    return n === null ? null : Math.floor(n);
  }
  /** substr(s, start, end) on code points, clamped to the text (values.substr). */
  function substr(s, start, end) {
    var t = Array.from(textOf(s));
    var i = index(start);
    var j = end === undefined ? t.length : index(end);
    if (i === null || j === null) return '';
    i = Math.max(0, Math.min(i, t.length));
    j = Math.max(0, Math.min(j, t.length));
    return i < j ? t.slice(i, j).join('') : '';
  }
  function substringBefore(s, t) {
    var a = textOf(s);
    var k = a.indexOf(textOf(t));
    return k < 0 ? '' : a.slice(0, k);
  }
  function substringAfter(s, t) {
    var a = textOf(s);
    var b = textOf(t);
    var k = a.indexOf(b);
    return k < 0 ? '' : a.slice(k + b.length);
  }
  function translate(s, src, dst) {
    var f = Array.from(textOf(src));
    var t = Array.from(textOf(dst));
    var table = new Map();
    for (var k = 0; k < f.length; k++) if (!table.has(f[k])) table.set(f[k], k < t.length ? t[k] : '');
    var out = '';
    for (var ch of textOf(s)) out += table.has(ch) ? table.get(ch) : ch;
    return out;
  }
  function normalizeSpace(s) {
    return textOf(s)
      .replace(/[ \t\r\n]+/g, ' ')
      .replace(/^ +| +$/g, '');
  }
  function selectedAt(sel, n) {
    var items = isArray(sel) ? sel.map(pyStr) : typeof sel === 'string' ? sel.split(SPLIT_WS).filter(Boolean) : [];
    var k = asNumber(n);
    if (k === null || k !== Math.floor(k) || k < 0 || k >= items.length) return '';
    return items[k];
  }
  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  var DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  var TIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?/;
  function pad2(n) {
    return (n < 10 ? '0' : '') + n;
  }
  /** format-date(v, fmt) as values.format_date. */
  function formatDate(v, fmt) {
    var ymd = parseDate(v);
    if (ymd === null) return '';
    var y = Math.floor(ymd / 10000);
    var mo = Math.floor(ymd / 100) % 100;
    var d = ymd % 100;
    var m = TIME.exec(v);
    var hh = m ? +m[1] : 0;
    var mm = m ? +m[2] : 0;
    var ss = m && m[3] ? +m[3] : 0;
    var frac = ((m && m[4]) || '') + '000';
    var f = Array.from(textOf(fmt));
    var out = '';
    for (var i = 0; i < f.length; ) {
      var ch = f[i];
      if (ch !== '%' || i + 1 >= f.length) {
        out += ch;
        i++;
        continue;
      }
      var c = f[i + 1];
      i += 2;
      switch (c) {
        case 'Y': out += ('000' + y).slice(-4); break;
        case 'y': out += pad2(y % 100); break;
        case 'm': out += pad2(mo); break;
        case 'n': out += mo; break;
        case 'b': out += MONTHS[mo - 1]; break;
        case 'd': out += pad2(d); break;
        case 'e': out += d; break;
        case 'a': out += DAYS[(dayNumber(ymd) % 7 + 10) % 7]; break;
        case 'H': out += pad2(hh); break;
        case 'h': out += hh; break;
        case 'M': out += pad2(mm); break;
        case 'S': out += pad2(ss); break;
        case '3': out += frac.slice(0, 3); break;
        case '%': out += '%'; break;
        default: out += '%' + c;
      }
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Regular expressions: Python's re.search() semantics with a JS RegExp
  // -------------------------------------------------------------------------------------------

  var W = '\\p{L}\\p{N}_'; // Python's \w on str: str.isalnum() or '_'
  var RX_ANY = '[\\s\\S]';
  var RX_WORD = '[' + W + ']';
  var RX_BOUNDARY = '(?:(?<=' + RX_WORD + ')(?!' + RX_WORD + ')|(?<!' + RX_WORD + ')(?=' + RX_WORD + '))';
  var RX_NONBOUNDARY =
    '(?:(?<=' + RX_WORD + ')(?=' + RX_WORD + ')|(?<!' + RX_WORD + ')(?!' + RX_WORD + ')(?:(?<=' + RX_ANY + ')|(?=' + RX_ANY + ')))';
  var HEX = /^[0-9a-fA-F]+$/;
  var SYNTAX = '^$\\.*+?()[]{}|/';

  function lit(ch) {
    // one code point as a u-mode RegExp atom that matches exactly that character
    if (SYNTAX.indexOf(ch) >= 0) return '\\' + ch;
    var c = ch.codePointAt(0);
    if (c < 32 || c === 127 || (c >= 0xd800 && c <= 0xdfff)) return '\\u{' + c.toString(16) + '}';
    return ch;
  }

  function isOct(ch) {
    return ch !== undefined && ch >= '0' && ch <= '7';
  }
  function isDigit(ch) {
    return ch !== undefined && ch >= '0' && ch <= '9';
  }

  /**
   * Translate a Python `re` pattern (the subset the server accepts) into an equivalent JS source
   * for the `u` flag: `.` does not match only '\n', `$` also matches before a final '\n', `\d \w
   * \s \b` are Unicode-aware as in Python, `{,n}` means `{0,n}` and a `{` that is not a quantifier
   * is a literal. Returns {source, flags}.
   */
  function translateRegex(pattern) {
    var cs = Array.from(pattern);
    var out = '';
    var i = 0;
    var n = cs.length;

    // an escape at cs[i] === '\\'; returns [kind, text, newIndex] where kind is
    // 'set' (a class fragment usable inside [...]), 'neg' (a complemented set, text is the set
    // to complement), 'char' (one literal character, text is the character), or 'raw' (text is
    // a JS atom to emit as is, outside classes only)
    function escape(j, inClass) {
      var c = cs[j + 1];
      var k, h;
      if (c === undefined) return ['char', '\\', j + 1];
      switch (c) {
        case 'd':
          return ['set', '\\p{Nd}', j + 2];
        case 'D':
          return ['neg', '\\p{Nd}', j + 2];
        case 'w':
          return ['set', W, j + 2];
        case 'W':
          return ['neg', W, j + 2];
        case 's':
          return ['set', PY_WS, j + 2];
        case 'S':
          return ['neg', PY_WS, j + 2];
        case 'b':
          return inClass ? ['char', '\b', j + 2] : ['raw', RX_BOUNDARY, j + 2];
        case 'B':
          return ['raw', RX_NONBOUNDARY, j + 2];
        case 'A':
          return ['raw', '(?<!' + RX_ANY + ')', j + 2];
        case 'Z':
          return ['raw', '(?!' + RX_ANY + ')', j + 2];
        case 'n':
          return ['char', '\n', j + 2];
        case 't':
          return ['char', '\t', j + 2];
        case 'r':
          return ['char', '\r', j + 2];
        case 'f':
          return ['char', '\f', j + 2];
        case 'v':
          return ['char', '\v', j + 2];
        case 'a':
          return ['char', '\x07', j + 2];
        case 'x':
        case 'u':
        case 'U':
          k = c === 'x' ? 2 : c === 'u' ? 4 : 8;
          h = cs.slice(j + 2, j + 2 + k).join('');
          if (h.length === k && HEX.test(h)) return ['char', String.fromCodePoint(parseInt(h, 16)), j + 2 + k];
          return ['raw', '\\' + c, j + 2];
        case '0':
          k = j + 2;
          h = '0';
          while (k < j + 4 && isOct(cs[k])) h += cs[k++];
          return ['char', String.fromCodePoint(parseInt(h, 8)), k];
        default:
          if (isDigit(c)) {
            if (isOct(c) && isOct(cs[j + 2]) && isOct(cs[j + 3])) {
              return ['char', String.fromCodePoint(parseInt(c + cs[j + 2] + cs[j + 3], 8)), j + 4];
            }
            if (inClass) return ['raw', '\\' + c, j + 2]; // Python rejects this; so will JS
            h = c;
            k = j + 2;
            if (isDigit(cs[k])) h += cs[k++];
            return ['backref', +h, k];
          }
          if (/[A-Za-z]/.test(c)) return ['raw', '\\' + c, j + 2]; // Python rejects unknown escapes
          return ['char', c, j + 2];
      }
    }

    function classPart(ch) {
      if (ch === '\\' || ch === ']' || ch === '[' || ch === '^' || ch === '-') return '\\' + ch;
      var c = ch.codePointAt(0);
      if (c < 32 || c === 127 || (c >= 0xd800 && c <= 0xdfff)) return '\\u{' + c.toString(16) + '}';
      return ch;
    }

    // Capturing groups: Python numbers them in the order they open; the translation adds groups
    // of its own (to emulate atomic groups and possessive quantifiers), so back-references are
    // written as placeholders and numbered at the end.
    var groups = []; // JS groups in order of opening: {pos: index in out}
    var pyGroups = [null]; // Python group number -> its JS group
    var stack = []; // open parentheses: {start, atomic: group or null}
    var lastAtom = -1; // where in `out` the last complete atom starts (-1: nothing to quantify)

    function openGroup() {
      var g = { pos: out.length };
      groups.push(g);
      return g;
    }
    function backref(g) {
      return '(?:\\\u0000' + groups.indexOf(g) + '\u0000)';
    }
    function atom(text) {
      lastAtom = out.length;
      out += text;
    }
    // after a quantifier: a lazy '?', or a possessive '+' (made atomic: (?=(X))\N)
    function afterQuantifier() {
      if (cs[i] === '?') {
        out += '?';
        i++;
      } else if (cs[i] === '+') {
        i++;
        for (var q = 0; q < groups.length; q++) if (groups[q].pos >= lastAtom) groups[q].pos += 4;
        var g = { pos: lastAtom + 3 };
        groups.push(g);
        out = out.slice(0, lastAtom) + '(?=(' + out.slice(lastAtom) + '))' + backref(g);
      }
      lastAtom = -1;
    }

    while (i < n) {
      var ch = cs[i];
      if (ch === '\\') {
        var r = escape(i, false);
        i = r[2];
        if (r[0] === 'set') atom('[' + r[1] + ']');
        else if (r[0] === 'neg') atom('[^' + r[1] + ']');
        else if (r[0] === 'char') atom(lit(r[1]));
        else if (r[0] === 'backref') atom(pyGroups[r[1]] ? backref(pyGroups[r[1]]) : '\\' + r[1]);
        else atom(r[1]);
      } else if (ch === '.') {
        atom('[^\\n]');
        i++;
      } else if (ch === '$') {
        atom('(?=\\n?(?!' + RX_ANY + '))');
        i++;
      } else if (ch === '^') {
        atom('^');
        i++;
      } else if (ch === '[') {
        i++;
        var negated = false;
        if (cs[i] === '^') {
          negated = true;
          i++;
        }
        var body = '';
        var negs = [];
        var first = true;
        while (i < n && (cs[i] !== ']' || first)) {
          first = false;
          if (cs[i] === '\\') {
            var e = escape(i, true);
            i = e[2];
            if (e[0] === 'set') body += e[1];
            else if (e[0] === 'neg') negs.push(e[1]);
            else if (e[0] === 'char') body += classPart(e[1]);
            else body += e[1];
          } else if (cs[i] === '-') {
            body += '-';
            i++;
          } else {
            body += classPart(cs[i]);
            i++;
          }
        }
        i++; // the closing ]
        if (negs.length === 0) {
          atom('[' + (negated ? '^' : '') + body + ']');
        } else {
          var alts = negs.map(function (x) {
            return '[^' + x + ']';
          });
          if (body !== '') alts.unshift('[' + body + ']');
          atom(negated ? '(?:(?!' + alts.join('|') + ')' + RX_ANY + ')' : '(?:' + alts.join('|') + ')');
        }
      } else if (ch === '{') {
        // Python: {m}, {m,}, {,n}, {m,n} (and {,}) are quantifiers; any other '{' is a literal
        var j = i + 1;
        var lo = '';
        var hi = '';
        while (isDigit(cs[j])) lo += cs[j++];
        var comma = cs[j] === ',';
        if (comma) {
          j++;
          while (isDigit(cs[j])) hi += cs[j++];
        }
        if (cs[i + 1] !== '}' && cs[j] === '}') {
          out += '{' + (lo || '0') + (comma ? ',' + hi : '') + '}';
          i = j + 1;
          if (lastAtom >= 0) afterQuantifier();
        } else {
          atom('\\{');
          i++;
        }
      } else if (ch === '*' || ch === '+' || ch === '?') {
        out += ch;
        i++;
        if (lastAtom >= 0) afterQuantifier();
      } else if (ch === '}' || ch === ']') {
        atom('\\' + ch);
        i++;
      } else if (ch === '|') {
        out += '|';
        i++;
        lastAtom = -1;
      } else if (ch === '(') {
        var start = out.length;
        var rest = cs.slice(i + 1, i + 5).join('');
        var m;
        if (rest.charAt(0) !== '?') {
          pyGroups.push(openGroup());
          stack.push({ start: start, atomic: null });
          out += '(';
          i++;
        } else if (rest.slice(0, 3) === '?P<') {
          pyGroups.push(openGroup());
          stack.push({ start: start, atomic: null });
          out += '(?<';
          i += 4;
        } else if (rest.slice(0, 3) === '?P=') {
          var end = cs.indexOf(')', i);
          atom('\\k<' + cs.slice(i + 4, end).join('') + '>');
          i = end + 1;
        } else if (rest.slice(0, 2) === '?#') {
          while (i < n && cs[i] !== ')') i++;
          i++;
        } else if (rest.slice(0, 2) === '?>') {
          // atomic group (?>X): (?=(X))\N
          out += '(?=';
          var g = openGroup();
          out += '(';
          stack.push({ start: start, atomic: g });
          i += 3;
        } else if ((m = /^\?-[imsx]+:/.exec(cs.slice(i + 1, i + 8).join(''))) !== null) {
          // (?-i:X) turns off flags that are never on (inline flags are refused at load)
          stack.push({ start: start, atomic: null });
          out += '(?:';
          i += 1 + m[0].length;
        } else {
          // (?:  (?=  (?!  (?<=  (?<!  and anything else as is
          stack.push({ start: start, atomic: null });
          out += '(?';
          i += 2;
        }
      } else if (ch === ')') {
        var open = stack.pop();
        out += open && open.atomic ? '))' + backref(open.atomic) : ')';
        i++;
        lastAtom = open ? open.start : -1;
      } else {
        atom(lit(ch));
        i++;
      }
    }
    out = out.replace(/\\\u0000(\d+)\u0000/g, function (_, k) {
      var g = groups[+k];
      var number = 0;
      for (var q = 0; q < groups.length; q++) if (groups[q].pos <= g.pos) number++;
      return '\\' + number;
    });
    return { source: out, flags: 'u' };
  }

  var NEVER = { test: function () { return false; } };

  /** A RegExp-like object whose test(s) is Python's re.search(pattern, s) is not None. */
  function compileRegex(pattern) {
    var t = translateRegex(pattern);
    try {
      return new RegExp(t.source, t.flags);
    } catch (err) {
      try {
        return new RegExp(pattern); // a feature the translation does not know: the pattern as is
      } catch (err2) {
        return NEVER;
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Compiling the JSON AST to closures
  // -------------------------------------------------------------------------------------------

  /** name -> [min args, max args or null] (engine/expression.py FUNCTIONS) */
  var FUNCTIONS = {
    selected: [2, 2],
    'count-selected': [1, 1],
    count: [1, 1],
    sum: [1, 2],
    any: [2, 2],
    all: [2, 2],
    if: [3, 3],
    coalesce: [2, null],
    concat: [1, null],
    join: [2, null],
    'string-length': [1, 1],
    regex: [2, 2],
    today: [0, 0],
    date: [1, 1],
    age: [1, 1],
    'days-between': [2, 2],
    'years-between': [2, 2],
    int: [1, 1],
    round: [1, 2],
    min: [1, null],
    max: [1, null],
    not: [1, 1],
    true: [0, 0],
    false: [0, 0],
    floor: [1, 1],
    abs: [1, 1],
    pow: [2, 2],
    sqrt: [1, 1],
    log: [1, 1],
    number: [1, 1],
    string: [1, 1],
    boolean: [1, 1],
    'boolean-from-string': [1, 1],
    substr: [2, 3],
    'substring-before': [2, 2],
    'substring-after': [2, 2],
    contains: [2, 2],
    'starts-with': [2, 2],
    'ends-with': [2, 2],
    translate: [3, 3],
    'normalize-space': [1, 1],
    'count-non-empty': [1, 1],
    'selected-at': [2, 2],
    'format-date': [2, 2],
    'format-date-time': [2, 2],
    'date-time': [1, 1],
    'decimal-date-time': [1, 1],
    now: [0, 0],
    uuid: [0, 0],
    random: [0, 0],
    once: [1, 1],
    position: [1, 1],
    'choice-name': [2, 2],
    'indexed-repeat': [3, 3],
    sin: [1, 1],
    cos: [1, 1],
    tan: [1, 1],
    asin: [1, 1],
    acos: [1, 1],
    atan: [1, 1],
    atan2: [2, 2],
    exp: [1, 1],
    exp10: [1, 1],
    log10: [1, 1],
    pi: [0, 0],
    lookup: [4, 4],
  };

  // the argument-wise pure functions: name -> [implementation, gives a boolean]
  var PURE = {
    floor: [floor, false],
    abs: [absolute, false],
    pow: [power, false],
    sqrt: [sqrt, false],
    log: [log, false],
    sin: [unary(Math.sin), false],
    cos: [unary(Math.cos), false],
    tan: [unary(Math.tan), false],
    asin: [unary(Math.asin), false],
    acos: [unary(Math.acos), false],
    atan: [unary(Math.atan), false],
    atan2: [atan2, false],
    exp: [unary(Math.exp), false],
    exp10: [unary(function (n) { return Math.pow(10, n); }), false],
    log10: [log10, false],
    number: [number, false],
    string: [textOf, false],
    boolean: [truth, true],
    'boolean-from-string': [booleanFromString, true],
    substr: [substr, false],
    'substring-before': [substringBefore, false],
    'substring-after': [substringAfter, false],
    contains: [function (s, t) { return textOf(s).indexOf(textOf(t)) >= 0; }, true],
    'starts-with': [function (s, t) { return textOf(s).startsWith(textOf(t)); }, true],
    'ends-with': [function (s, t) { return textOf(s).endsWith(textOf(t)); }, true],
    translate: [translate, false],
    'normalize-space': [normalizeSpace, false],
    'selected-at': [selectedAt, false],
    'format-date': [formatDate, false],
    'format-date-time': [formatDate, false],
    'date-time': [dateTime, false],
    'decimal-date-time': [decimalDateTime, false],
  };

  function CompileError(message) {
    var e = new Error(message);
    e.name = 'SanadExprError';
    return e;
  }

  // A reader of `name` from a values object; '' when absent. Names that exist on
  // Object.prototype (constructor, toString, ...) are read as own properties only.
  function reader(name) {
    if (name in Object.prototype || name === '__proto__') {
      return function (o) {
        if (o === null || o === undefined || !hasOwn.call(o, name)) return '';
        var x = o[name];
        return x === undefined || x === null ? '' : x;
      };
    }
    return function (o) {
      var x = o[name];
      return x === undefined || x === null ? '' : x;
    };
  }

  var ORDER_TESTS = {
    '<': function (c) {
      return c !== null && c < 0;
    },
    '<=': function (c) {
      return c !== null && c <= 0;
    },
    '>': function (c) {
      return c !== null && c > 0;
    },
    '>=': function (c) {
      return c !== null && c >= 0;
    },
  };
  var FLIP = { '=': '=', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

  // ordering of two plain numbers by operator
  function numTest(op) {
    switch (op) {
      case '<':
        return function (x, y) {
          return x < y;
        };
      case '<=':
        return function (x, y) {
          return x <= y;
        };
      case '>':
        return function (x, y) {
          return x > y;
        };
      default:
        return function (x, y) {
          return x >= y;
        };
    }
  }

  // A compiled node: {f: closure(env), bool: true when it always gives a boolean,
  // lit: true and value when it is a literal}.
  function C(f, bool) {
    return { f: f, bool: !!bool, lit: false, value: undefined };
  }

  function compileCmp(op, a, b) {
    if (a.lit && !b.lit) {
      var t = a;
      a = b;
      b = t;
      op = FLIP[op];
    }
    var fa = a.f;
    var fb = b.f;
    if (b.lit && !a.lit) {
      var L = b.value;
      if (typeof L === 'number') {
        if (op === '=') return function (e) { var x = fa(e); return typeof x === 'number' ? x === L : eq(x, L); };
        if (op === '!=') return function (e) { var x = fa(e); return typeof x === 'number' ? x !== L : !eq(x, L); };
        var nt = numTest(op);
        var ot = ORDER_TESTS[op];
        return function (e) {
          var x = fa(e);
          return typeof x === 'number' ? nt(x, L) : ot(order(x, L));
        };
      }
      if (typeof L === 'string') {
        if (op === '=') return function (e) { var x = fa(e); return typeof x === 'string' ? x === L : eq(x, L); };
        if (op === '!=') return function (e) { var x = fa(e); return typeof x === 'string' ? x !== L : !eq(x, L); };
        var ot2 = ORDER_TESTS[op];
        if (L !== '' && asNumber(L) === null) {
          // a text that is not a number: a text value compares by code point
          return function (e) {
            var x = fa(e);
            return typeof x === 'string' && x !== '' ? ot2(compareText(x, L)) : ot2(order(x, L));
          };
        }
        return function (e) {
          return ot2(order(fa(e), L));
        };
      }
    }
    if (op === '=') {
      return function (e) {
        var x = fa(e);
        var y = fb(e);
        return typeof x === typeof y && typeof x !== 'object' ? x === y : eq(x, y);
      };
    }
    if (op === '!=') {
      return function (e) {
        var x = fa(e);
        var y = fb(e);
        return typeof x === typeof y && typeof x !== 'object' ? x !== y : !eq(x, y);
      };
    }
    var nt2 = numTest(op);
    var ot3 = ORDER_TESTS[op];
    return function (e) {
      var x = fa(e);
      var y = fb(e);
      return typeof x === 'number' && typeof y === 'number' ? nt2(x, y) : ot3(order(x, y));
    };
  }

  function isRow(r) {
    return r !== null && typeof r === 'object' && !isArray(r);
  }

  function compileAggregate(fn, args, compileNode) {
    var sub = args[0];
    if (sub.op !== 'ref') throw CompileError(fn + '() needs a subform field');
    var fsub = compileNode(sub).f;
    if (fn === 'count') {
      return C(function (e) {
        var r = fsub(e);
        return isArray(r) ? r.length : 0;
      });
    }
    var up = sub.up | 0;
    var inner = compileNode(args[1]);
    var fi = inner.f;
    var cond = inner.bool;
    function rowEnv(e) {
      var ups = e.up || [];
      return {
        v: null,
        up: up === 0 ? [e.v].concat(ups) : ups.slice(up - 1),
        today: e.today,
        dot: '',
        choice: null,
        pos: 0,
        own: '',
      };
    }
    if (fn === 'sum') {
      return C(function (e) {
        var r = fsub(e);
        if (!isArray(r) || r.length === 0) return 0;
        var env = rowEnv(e);
        var total = 0;
        for (var i = 0; i < r.length; i++) {
          var row = r[i];
          if (!isRow(row)) continue;
          env.v = row;
          env.pos = i + 1;
          var x = fi(env);
          if (typeof x !== 'number') x = asNumber(x);
          if (x !== null) total += x;
        }
        return tidy(total);
      });
    }
    var isAny = fn === 'any';
    return C(function (e) {
      var r = fsub(e);
      if (!isArray(r) || r.length === 0) return !isAny;
      var env = rowEnv(e);
      for (var i = 0; i < r.length; i++) {
        var row = r[i];
        if (!isRow(row)) continue;
        env.v = row;
        env.pos = i + 1;
        var x = fi(env);
        if ((cond ? x : truth(x)) === isAny) return isAny;
      }
      return !isAny;
    }, true);
  }

  function compileCall(node, compileNode) {
    var fn = node.fn;
    var args = node.args || [];
    var arity = FUNCTIONS[fn];
    if (!arity) throw CompileError("there is no function '" + fn + "()'");
    if (args.length < arity[0] || (arity[1] !== null && args.length > arity[1])) {
      throw CompileError(fn + '() cannot take ' + args.length + ' arguments');
    }
    if (fn === 'count' || fn === 'any' || fn === 'all' || (fn === 'sum' && args.length === 2)) {
      return compileAggregate(fn, args, compileNode);
    }
    if (fn === 'position') {
      // position(..): the 1-based index of the current row: env.pos, else the row found among its
      // parent's rows of the subform `node.subform`
      var subName = node.subform;
      return C(function (e) {
        if (typeof e.pos === 'number' && e.pos > 0) return e.pos;
        var rows = e.up && e.up.length && e.up[0] ? e.up[0][subName] : null;
        if (isArray(rows)) for (var i = 0; i < rows.length; i++) if (rows[i] === e.v) return i + 1;
        return '';
      });
    }
    var cs = args.map(compileNode);
    if (hasOwn.call(PURE, fn)) {
      var impl = PURE[fn][0];
      var pf = cs.map(function (c) {
        return c.f;
      });
      if (pf.length === 1) return C(function (e) { return impl(pf[0](e)); }, PURE[fn][1]);
      if (pf.length === 2) return C(function (e) { return impl(pf[0](e), pf[1](e)); }, PURE[fn][1]);
      return C(function (e) { return impl(pf[0](e), pf[1](e), pf[2](e)); }, PURE[fn][1]);
    }
    // a column of a subform (`sum(${member_income})`): its values are spread
    var spread = args.map(function (a) {
      return a.op === 'column';
    });
    var fs = cs.map(function (c) {
      return c.f;
    });
    var fa = fs[0];
    var fb = fs[1];
    var fc = fs[2];
    switch (fn) {
      case 'not':
        return C(function (e) {
          return !truth(fa(e));
        }, true);
      case 'selected':
        return C(function (e) {
          var sel = fa(e);
          var want = textOf(fb(e));
          if (isArray(sel)) return sel.indexOf(want) >= 0;
          return typeof sel === 'string' && sel !== '' && sel.split(SPLIT_WS).indexOf(want) >= 0 && want !== '';
        }, true);
      case 'count-selected':
        return C(function (e) {
          var sel = fa(e);
          if (isArray(sel)) return sel.length;
          if (typeof sel !== 'string') return 0;
          var parts = sel.split(SPLIT_WS);
          var k = parts.length;
          if (parts[0] === '') k--;
          if (k > 0 && parts[parts.length - 1] === '') k--;
          return k < 0 ? 0 : k;
        });
      case 'if':
        var cbool = cs[0].bool;
        return C(function (e) {
          var c = fa(e);
          return (cbool ? c : truth(c)) ? fb(e) : fc(e);
        }, cs[1].bool && cs[2].bool);
      case 'coalesce':
        return C(function (e) {
          for (var i = 0; i < fs.length; i++) {
            var v = fs[i](e);
            if (v !== '' && v !== null && v !== undefined && !(isArray(v) && v.length === 0)) return v;
          }
          return '';
        });
      case 'concat':
        return C(function (e) {
          var s = '';
          for (var i = 0; i < fs.length; i++) {
            var v = fs[i](e);
            s += typeof v === 'string' ? v : textOf(v);
          }
          return s;
        });
      case 'join':
        var parts = fs.slice(1);
        var spreadParts = spread.slice(1);
        return C(function (e) {
          var sep = textOf(fa(e));
          var s = '';
          var any = false;
          for (var i = 0; i < parts.length; i++) {
            var vs = spreadParts[i] ? parts[i](e) : [parts[i](e)];
            for (var j = 0; j < vs.length; j++) {
              var t = textOf(vs[j]);
              if (t !== '') {
                s += any ? sep + t : t;
                any = true;
              }
            }
          }
          return s;
        });
      case 'sum':
        return C(function (e) {
          var vs = fa(e);
          var total = 0;
          for (var i = 0; i < vs.length; i++) {
            var x = asNumber(vs[i]);
            if (x !== null) total += x;
          }
          return tidy(total);
        });
      case 'indexed-repeat':
        // the field's answer in row n (from 1) of the subform (functions.f_indexed_repeat)
        return C(function (e) {
          var vs = fa(e);
          var n = asNumber(fc(e));
          if (n === null || n !== Math.floor(n) || n < 1 || n > vs.length) return '';
          return vs[n - 1];
        });
      case 'pi':
        return C(function () {
          return Math.PI;
        });
      case 'count-non-empty':
        return C(function (e) {
          var vs = fa(e);
          var k = 0;
          for (var i = 0; i < vs.length; i++) if (vs[i] !== '' && !(isArray(vs[i]) && vs[i].length === 0)) k++;
          return k;
        });
      case 'true':
      case 'false':
        var bv = fn === 'true';
        var cb = C(function () {
          return bv;
        }, true);
        cb.lit = true;
        cb.value = bv;
        return cb;
      case 'string-length':
        return C(function (e) {
          return stringLength(textOf(fa(e)));
        });
      case 'regex':
        if (args[1].op !== 'lit' || typeof args[1].value !== 'string') {
          throw CompileError('the regex() pattern must be a quoted text');
        }
        var rx = compileRegex(args[1].value);
        return C(function (e) {
          var v = fa(e);
          return v !== '' && v !== null && v !== undefined && rx.test(textOf(v));
        }, true);
      case 'today':
        return C(function (e) {
          var t = e.today;
          return t === undefined || t === null ? '' : t;
        });
      case 'date':
        if (cs[0].lit) {
          var d = dateOf(cs[0].value);
          var c = C(function () {
            return d;
          });
          c.lit = true;
          c.value = d;
          return c;
        }
        return C(function (e) {
          return dateOf(fa(e));
        });
      case 'now':
        return C(function (e) {
          return nowAt(e.today);
        });
      case 'uuid':
        return C(function () {
          return uuid4();
        });
      case 'random':
        return C(function () {
          return Math.random();
        });
      case 'once':
        // the field's current answer (env.own) when it has one, else the expression
        return C(function (e) {
          var own = e.own;
          return own === '' || own === null || own === undefined || (isArray(own) && own.length === 0) ? fa(e) : own;
        });
      case 'lookup':
        // the table (key -> column) the server built from the option list (functions.f_lookup)
        var table = node.table || {};
        return C(function (e) {
          var k = textOf(fs[3](e));
          return hasOwn.call(table, k) ? table[k] : '';
        });
      case 'choice-name':
        var labels = node.labels || {};
        return C(function (e) {
          return choiceLabel(fa(e), labels);
        });
      case 'age':
        return C(function (e) {
          return age(fa(e), e.today);
        });
      case 'days-between':
        return C(function (e) {
          return daysBetween(fa(e), fb(e));
        });
      case 'years-between':
        return C(function (e) {
          return yearsBetween(fa(e), fb(e));
        });
      case 'int':
        return C(function (e) {
          return trunc(fa(e));
        });
      case 'round':
        if (!fb) {
          return C(function (e) {
            return roundHalfAway(fa(e), 0);
          });
        }
        return C(function (e) {
          return roundHalfAway(fa(e), fb(e));
        });
      case 'min':
      case 'max':
        var isMin = fn === 'min';
        return C(function (e) {
          var best = null;
          for (var i = 0; i < fs.length; i++) {
            var vs = spread[i] ? fs[i](e) : [fs[i](e)];
            for (var j = 0; j < vs.length; j++) {
              var x = asNumber(vs[j]);
              if (x !== null && (best === null || (isMin ? x < best : x > best))) best = x;
            }
          }
          return best === null ? '' : best;
        });
      default:
        throw CompileError("there is no function '" + fn + "()'");
    }
  }

  function compileNode(node) {
    if (node === null || typeof node !== 'object') throw CompileError('not an expression node: ' + node);
    var args = node.args || [];
    var a, b, fa, fb, c;
    switch (node.op) {
      case 'lit':
        var value = node.value;
        c = C(function () {
          return value;
        }, typeof value === 'boolean');
        c.lit = true;
        c.value = value;
        return c;
      case 'ref':
        var read = reader(node.name);
        var up = node.up | 0;
        if (up === 0) {
          return C(function (e) {
            return read(e.v);
          });
        }
        var k = up - 1;
        return C(function (e) {
          var u = e.up;
          var p = u ? u[k] : undefined;
          return p === undefined || p === null ? '' : read(p);
        });
      case 'dot':
        return C(function (e) {
          var d = e.dot;
          return d === undefined || d === null ? '' : d;
        });
      case 'choice':
        var readChoice = reader(node.name);
        return C(function (e) {
          var ch = e.choice;
          return ch === undefined || ch === null ? '' : readChoice(ch);
        });
      case 'neg':
        fa = compileNode(args[0]).f;
        return C(function (e) {
          var x = fa(e);
          return typeof x === 'number' ? tidy(-x) : negate(x);
        });
      case 'not':
        if (args.length !== 1) throw CompileError('not() takes 1 argument');
        a = compileNode(args[0]);
        fa = a.f;
        if (a.bool) {
          return C(function (e) {
            return !fa(e);
          }, true);
        }
        return C(function (e) {
          return !truth(fa(e));
        }, true);
      case 'and':
      case 'or':
        a = compileNode(args[0]);
        b = compileNode(args[1]);
        fa = a.f;
        fb = b.f;
        var ab = a.bool;
        var bb = b.bool;
        if (node.op === 'and') {
          if (ab && bb) return C(function (e) { return fa(e) && fb(e); }, true);
          return C(function (e) {
            var x = fa(e);
            if (!(ab ? x : truth(x))) return false;
            var y = fb(e);
            return bb ? y : truth(y);
          }, true);
        }
        if (ab && bb) return C(function (e) { return fa(e) || fb(e); }, true);
        return C(function (e) {
          var x = fa(e);
          if (ab ? x : truth(x)) return true;
          var y = fb(e);
          return bb ? y : truth(y);
        }, true);
      case 'cmp':
        if (!FLIP[node.cmp]) throw CompileError('unknown comparison ' + node.cmp);
        return C(compileCmp(node.cmp, compileNode(args[0]), compileNode(args[1])), true);
      case 'arith':
        var op = node.arith;
        fa = compileNode(args[0]).f;
        fb = compileNode(args[1]).f;
        switch (op) {
          case '+':
            return C(function (e) {
              var x = fa(e);
              var y = fb(e);
              return typeof x === 'number' && typeof y === 'number' ? tidy(x + y) : arith('+', x, y);
            });
          case '-':
            return C(function (e) {
              var x = fa(e);
              var y = fb(e);
              return typeof x === 'number' && typeof y === 'number' ? tidy(x - y) : arith('-', x, y);
            });
          case '*':
            return C(function (e) {
              var x = fa(e);
              var y = fb(e);
              return typeof x === 'number' && typeof y === 'number' ? tidy(x * y) : arith('*', x, y);
            });
          case 'div':
          case 'mod':
            return C(function (e) {
              return arith(op, fa(e), fb(e));
            });
          default:
            throw CompileError('unknown operator ' + op);
        }
      case 'column':
        // the values of a subform's field, one per row (only ever an argument of sum, min, max,
        // join and count-non-empty)
        var readCol = reader(node.name);
        fa = compileNode(args[0]).f;
        return C(function (e) {
          var r = fa(e);
          var out = [];
          if (!isArray(r)) return out;
          for (var i = 0; i < r.length; i++) if (isRow(r[i])) out.push(readCol(r[i]));
          return out;
        });
      case 'call':
        return compileCall(node, compileNode);
      default:
        throw CompileError('unknown expression node ' + JSON.stringify(node.op));
    }
  }

  var cache = typeof WeakMap === 'function' ? new WeakMap() : null;

  /** Compile a JSON AST (an object, or its JSON text) once; returns fn(env) -> value. */
  function compile(ast) {
    if (typeof ast === 'string') ast = JSON.parse(ast);
    if (cache !== null) {
      var hit = cache.get(ast);
      if (hit) return hit;
    }
    var fn = compileNode(ast).f;
    if (cache !== null) cache.set(ast, fn);
    return fn;
  }

  /** Evaluate an AST against an env (compiling it on first use). */
  function evaluate(ast, env) {
    return compile(ast)(env);
  }

  /** compile() for conditions: fn(env) -> boolean (the truth of the value). */
  function compileCondition(ast) {
    var f = compile(ast);
    return function (env) {
      return truth(f(env));
    };
  }

  /**
   * The fields an expression reads, for dependency tracking: [{name, up}], `up` counted from the
   * expression's own scope. A field read inside the rows of sum()/any()/all() is listed as
   * {name, up, rows: ['subform']}: a row field of that subform, itself found `up` levels above the
   * expression's scope (['outer', 'inner'] for an aggregate inside an aggregate); a parent field
   * read inside the rows (`${../x}`) is translated to the expression's scope. Each listed once.
   */
  function refs(ast) {
    var out = [];
    var seen = {};
    function add(r) {
      var key = r.name + '\u0000' + r.up + '\u0000' + (r.rows ? r.rows.join('/') : '');
      if (!hasOwn.call(seen, key)) {
        seen[key] = true;
        out.push(r);
      }
    }
    // ctx: null at the expression's scope, else {rows, up, outer} for the body of an aggregate
    // over the subform field `rows` read with `up` from the scope `outer`
    function resolve(name, up, ctx) {
      if (ctx === null) return { name: name, up: up };
      if (up > 0) return resolve(name, up - 1 + ctx.up, ctx.outer);
      var sub = resolve(ctx.rows, ctx.up, ctx.outer);
      return { name: name, up: sub.up, rows: (sub.rows || []).concat([ctx.rows]) };
    }
    function walk(node, ctx) {
      if (!node || typeof node !== 'object') return;
      if (node.op === 'ref') {
        add(resolve(node.name, node.up | 0, ctx));
        return;
      }
      var args = node.args || [];
      if (node.op === 'column' && args[0] && args[0].op === 'ref') {
        walk(args[0], ctx);
        walk({ op: 'ref', name: node.name, up: 0 }, { rows: args[0].name, up: args[0].up | 0, outer: ctx });
        return;
      }
      if (node.op === 'call' && (node.fn === 'sum' || node.fn === 'any' || node.fn === 'all') && args.length === 2) {
        walk(args[0], ctx);
        if (args[0] && args[0].op === 'ref') {
          walk(args[1], { rows: args[0].name, up: args[0].up | 0, outer: ctx });
        } else walk(args[1], ctx);
        return;
      }
      for (var i = 0; i < args.length; i++) walk(args[i], ctx);
    }
    walk(ast, null);
    return out;
  }

  root.SanadExpr = {
    version: 1,
    compile: compile,
    compileCondition: compileCondition,
    evaluate: evaluate,
    refs: refs,
    FUNCTIONS: FUNCTIONS,
    // value semantics, for reuse by the renderer
    truth: truth,
    isNumber: isNumber,
    asNumber: asNumber,
    tidy: tidy,
    eq: eq,
    order: order,
    arith: arith,
    negate: negate,
    textOf: textOf,
    formatNumber: formatNumber,
    compareText: compareText,
    stringLength: stringLength,
    parseDate: parseDate,
    dateOf: dateOf,
    age: age,
    yearsBetween: yearsBetween,
    daysBetween: daysBetween,
    dayNumberOf: dayNumberOf,
    dateOfDay: dateOfDay,
    dateArith: dateArith,
    dateTime: dateTime,
    decimalDateTime: decimalDateTime,
    nowAt: nowAt,
    uuid: uuid4,
    choiceLabel: choiceLabel,
    number: number,
    formatDate: formatDate,
    substr: substr,
    translate: translate,
    normalizeSpace: normalizeSpace,
    roundHalfAway: roundHalfAway,
    trunc: trunc,
    translateRegex: translateRegex,
    compileRegex: compileRegex,
    pyRepr: pyRepr,
  };
})(typeof globalThis !== 'undefined' ? globalThis : typeof window !== 'undefined' ? window : this);
