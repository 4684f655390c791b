/* Sanad three-way merge for the browser: the port of engine/runtime/merge.py.
 *
 * Merging an edit made on an older copy of a record (offline, or in a tab left open) into the
 * record as it is now: `base` is the copy the edit started from, `theirs` the record now, `changes`
 * the answers the user changed (null for cleared).
 *
 * - An answer only the user changed takes the user's value; an answer only others changed keeps
 *   theirs; both changed it to the same value: nothing to do; both changed it differently: a
 *   conflict, with both values, that the user resolves (mine / theirs). Nothing is dropped silently.
 * - Subform rows merge by their stable ids (`_row`): rows added on either side are all kept (others'
 *   first, in their order, then the user's new ones); a row deleted on either side stays deleted;
 *   a row kept on both sides merges cell by cell, a conflict's path naming the row
 *   (`services[<row id>].goal`).
 *
 * The vectors of tests/conformance/merge.yaml hold for both (`node --test tests/js/` checks them,
 * and compares this file with merge.py on random cases).
 *
 * A classic script: it sets `globalThis.SanadMerge` (so `window.SanadMerge` in a page) and has no
 * dependencies. Node tests load it with `vm.runInThisContext`.
 *
 *   var r = SanadMerge.merge(base, theirs, changes);
 *   r.write      // {field: value, ...}: the values to write (conflicting fields left out)
 *   r.conflicts  // [{field, mine, theirs, base}, ...]
 *   SanadMerge.mergeRows(baseRows, theirRows, myRows, 'services')  // -> {rows: [...], conflicts: [...]}
 *
 * Python's meaning is kept where JSON values can tell: equality is Python's `==` (1 == 1.0, and
 * True == 1 as in Python, key order of objects ignored); undefined reads as None (null). Two things
 * JS cannot mirror: `changes` keys are visited in JS object order (integer-like names first), and
 * within one row the cells are visited in the order of the user's row (Python visits them in set
 * order, which depends on the string hash seed).
 */
(function (root) {
  'use strict';

  var hasOwn = Object.prototype.hasOwnProperty;
  var isArray = Array.isArray;
  var ROW_ID = '_row';

  /** obj.get(key) in Python: own values only, missing (or undefined) as null. */
  function get(obj, key) {
    if (obj === null || obj === undefined || !hasOwn.call(obj, key)) return null;
    var v = obj[key];
    return v === undefined ? null : v;
  }

  /** out[key] = value, safe for a field named `__proto__`. */
  function put(obj, key, value) {
    if (key === '__proto__') {
      Object.defineProperty(obj, key, { value: value, writable: true, enumerable: true, configurable: true });
    } else {
      obj[key] = value;
    }
  }

  function isDict(v) {
    return v !== null && typeof v === 'object' && !isArray(v);
  }

  /** Python's truth of a JSON value. */
  function pyTruth(v) {
    if (v === null || v === undefined || v === false || v === '') return false;
    if (typeof v === 'number') return v !== 0;
    if (isArray(v)) return v.length > 0;
    if (isDict(v)) return Object.keys(v).length > 0;
    return true;
  }

  /** Python's `a == b` on JSON values (booleans are the numbers 0 and 1, as in Python). */
  function pyEq(a, b) {
    if (a === undefined) a = null;
    if (b === undefined) b = null;
    if (a === b) return true;
    var ta = typeof a;
    var tb = typeof b;
    if ((ta === 'number' || ta === 'boolean') && (tb === 'number' || tb === 'boolean')) return +a === +b;
    if (isArray(a)) {
      if (!isArray(b) || a.length !== b.length) return false;
      for (var i = 0; i < a.length; i++) if (!pyEq(a[i], b[i])) return false;
      return true;
    }
    if (isDict(a)) {
      if (!isDict(b)) return false;
      var ka = Object.keys(a);
      if (ka.length !== Object.keys(b).length) return false;
      for (var j = 0; j < ka.length; j++) {
        if (!hasOwn.call(b, ka[j]) || !pyEq(a[ka[j]], b[ka[j]])) return false;
      }
      return true;
    }
    return false;
  }

  /** _empty: None, '' or an empty list. */
  function isEmpty(v) {
    return v === null || v === undefined || v === '' || (isArray(v) && v.length === 0);
  }

  /** _same: both empty, or equal. */
  function same(a, b) {
    return (isEmpty(a) && isEmpty(b)) || pyEq(a, b);
  }

  /** _is_rows: a list whose items are all objects (an empty list too). */
  function isRows(v) {
    if (!isArray(v)) return false;
    for (var i = 0; i < v.length; i++) if (!isDict(v[i])) return false;
    return true;
  }

  /** A row id as a dict key, equal where Python's keys are (1, 1.0 and True are one key). */
  function idKey(v) {
    if (typeof v === 'string') return 's' + v;
    if (typeof v === 'number' || typeof v === 'boolean') return 'n' + String(+v);
    if (v === null || v === undefined) return 'z';
    throw new TypeError("unhashable type: '" + (isArray(v) ? 'list' : 'dict') + "' (row id " + JSON.stringify(v) + ')');
  }

  /** str() of a row id, as Python writes it in a conflict's path. */
  function pyStr(v) {
    if (typeof v === 'string') return v;
    if (v === true) return 'True';
    if (v === false) return 'False';
    if (v === null || v === undefined) return 'None';
    if (typeof v === 'number') {
      if (v !== v) return 'nan';
      if (v === Infinity) return 'inf';
      if (v === -Infinity) return '-inf';
      var e = v.toExponential(); // shortest digits, as Python's repr
      var at = e.indexOf('e');
      var exp = +e.slice(at + 1);
      if (Math.floor(v) === v || exp >= -4) return String(v);
      return e.slice(0, at) + 'e-' + (exp > -10 ? '0' : '') + String(-exp);
    }
    return JSON.stringify(v);
  }

  function conflict(path, mine, theirs, base) {
    return {
      field: path,
      mine: mine === undefined ? null : mine,
      theirs: theirs === undefined ? null : theirs,
      base: base === undefined ? null : base,
    };
  }

  /** The values to write for the changed fields (conflicting ones left as theirs, out of the
   * result), and the conflicts. */
  function merge(base, theirs, changes) {
    var out = {};
    var conflicts = [];
    var names = changes ? Object.keys(changes) : [];
    for (var i = 0; i < names.length; i++) {
      var name = names[i];
      var mine = get(changes, name);
      var was = get(base, name);
      var now = get(theirs, name);
      if (isRows(mine) && (isRows(now) || isEmpty(now)) && (isRows(was) || isEmpty(was))) {
        var merged = mergeRows(isEmpty(was) ? [] : was, isEmpty(now) ? [] : now, mine, name);
        for (var c = 0; c < merged.conflicts.length; c++) conflicts.push(merged.conflicts[c]);
        if (!same(merged.rows, now)) put(out, name, merged.rows);
        continue;
      }
      if (same(mine, now)) continue; // nothing to do: already so
      if (same(now, was)) {
        put(out, name, mine); // only the user changed it
        continue;
      }
      if (same(mine, was)) continue; // only others changed it (the user's copy had the old value)
      conflicts.push(conflict(name, mine, now, was));
    }
    return { write: out, conflicts: conflicts };
  }

  /** Rows indexed by their (truthy) ids; a later row with the same id wins, as in a dict. */
  function byId(rows) {
    var index = Object.create(null);
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      if (isDict(r)) {
        var rid = get(r, ROW_ID);
        if (pyTruth(rid)) index[idKey(rid)] = r;
      }
    }
    return index;
  }

  function has(index, rid) {
    return hasOwn.call(index, idKey(rid));
  }

  /** Rows merged by `_row`; the conflicts of cells changed on both sides. */
  function mergeRows(base, theirs, mine, path) {
    var baseBy = byId(base);
    var mineBy = byId(mine);
    var conflicts = [];
    var out = [];
    var i, row, rid;
    for (i = 0; i < theirs.length; i++) {
      row = theirs[i];
      rid = isDict(row) ? get(row, ROW_ID) : null;
      if (rid === null || !has(baseBy, rid)) {
        out.push(row); // added by others (or a row that never had an id): kept
        continue;
      }
      if (!has(mineBy, rid)) continue; // the user deleted it: it stays deleted
      var baseRow = baseBy[idKey(rid)];
      var cells = merge(baseRow, row, rowChanges(baseRow, mineBy[idKey(rid)]));
      for (var c = 0; c < cells.conflicts.length; c++) {
        var f = cells.conflicts[c];
        conflicts.push(conflict(path + '[' + pyStr(rid) + '].' + f.field, f.mine, f.theirs, f.base));
      }
      var merged = {};
      var keys = Object.keys(row);
      for (var k = 0; k < keys.length; k++) put(merged, keys[k], row[keys[k]]);
      keys = Object.keys(cells.write);
      for (k = 0; k < keys.length; k++) put(merged, keys[k], cells.write[keys[k]]);
      out.push(merged);
    }
    var theirsBy = byId(theirs);
    for (i = 0; i < mine.length; i++) {
      row = mine[i];
      rid = isDict(row) ? get(row, ROW_ID) : null;
      // added by the user (a row already there is an addition sent again)
      if (rid === null || (!has(baseBy, rid) && !has(theirsBy, rid))) out.push(row);
      // a row in base and mine but not in theirs was deleted by others: it stays deleted
    }
    return { rows: out, conflicts: conflicts };
  }

  /** The cells the user changed in a row (cleared ones as null). Only the cells the user's copy
   * holds count: columns they may not see are not in it, and are never cleared by it. */
  function rowChanges(baseRow, mineRow) {
    var out = {};
    var keys = Object.keys(mineRow);
    for (var i = 0; i < keys.length; i++) {
      var k = keys[i];
      if (k === ROW_ID) continue;
      var v = get(mineRow, k);
      if (!same(v, get(baseRow, k))) put(out, k, v);
    }
    return out;
  }

  root.SanadMerge = {
    version: 1,
    ROW_ID: ROW_ID,
    merge: merge,
    mergeRows: mergeRows,
    // the value semantics, for reuse and tests
    isEmpty: isEmpty,
    same: same,
    isRows: isRows,
    pyEq: pyEq,
  };
})(typeof globalThis !== 'undefined' ? globalThis : typeof window !== 'undefined' ? window : this);
