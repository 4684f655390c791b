/* Sanad offline store: one IndexedDB database per user on this device, every record, draft and
 * queued change in it encrypted with AES-GCM (Web Crypto). The data key is random; it is kept
 * wrapped by a key derived from the user's password (PBKDF2-SHA-256, 310,000 iterations, a random
 * salt), so another person using the same browser profile cannot read it. Once unlocked (at
 * sign-in, or on the offline page with the password), the key lives in this tab's sessionStorage
 * until the tab closes, the user signs out, or the idle timeout locks it.
 * No framework, no build step. */
(function () {
  "use strict";
  var ITERATIONS = 310000;
  var STORES = ["meta", "records", "drafts", "queue", "issues"];
  var KEY_ITEM = "sanad.key.";
  var SEEN_ITEM = "sanad.seen";
  var enc = new TextEncoder();
  var dec = new TextDecoder();
  var cache = { user: null, key: null, db: null };

  function b64(buf) {
    var s = "", bytes = new Uint8Array(buf);
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s);
  }
  function unb64(text) {
    var s = atob(text), out = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  function req(r) {
    return new Promise(function (ok, fail) { r.onsuccess = function () { ok(r.result); }; r.onerror = function () { fail(r.error); }; });
  }
  function dbName(user) { return "sanad-" + user; }

  function open(user) {
    if (cache.db && cache.user === user) return Promise.resolve(cache.db);
    var r = indexedDB.open(dbName(user), 1);
    r.onupgradeneeded = function () {
      STORES.forEach(function (name) { if (!r.result.objectStoreNames.contains(name)) r.result.createObjectStore(name, { keyPath: "id" }); });
    };
    return req(r).then(function (db) { cache.db = db; cache.user = user; return db; });
  }

  function tx(db, store, mode, fn) {
    var t = db.transaction(store, mode);
    var result = fn(t.objectStore(store));
    return new Promise(function (ok, fail) {
      t.oncomplete = function () { ok(result && result.result !== undefined ? result.result : undefined); };
      t.onerror = function () { fail(t.error); };
      t.onabort = function () { fail(t.error); };
    });
  }

  /* The key-encryption key derived from the password; not extractable. */
  function kek(password, salt, usages) {
    return crypto.subtle.importKey("raw", enc.encode(password), "PBKDF2", false, ["deriveKey"]).then(function (base) {
      return crypto.subtle.deriveKey(
        { name: "PBKDF2", salt: salt, iterations: ITERATIONS, hash: "SHA-256" },
        base, { name: "AES-GCM", length: 256 }, false, usages || ["wrapKey", "unwrapKey"]
      );
    });
  }

  function remember(user, key) {
    return crypto.subtle.exportKey("raw", key).then(function (raw) {
      sessionStorage.setItem(KEY_ITEM + user, b64(raw));
      touch();
      cache.key = key;
      cache.user = user;
      return key;
    });
  }

  /* The data key wrapped under a key derived from `password` with a new salt. */
  function wrapWith(db, key, wrapper, salt) {
    var iv = crypto.getRandomValues(new Uint8Array(12));
    return crypto.subtle.wrapKey("raw", key, wrapper, { name: "AES-GCM", iv: iv }).then(function (w) {
      var entry = { id: "key", salt: b64(salt), iv: b64(iv), wrapped: b64(w) };
      return tx(db, "meta", "readwrite", function (s) { s.put(entry); s.delete("rekey"); });
    });
  }

  /* Unlock (or, the first time on this device, create) the user's store with their password.
   * Resolves to true, or false when the stored data was protected with another password: then,
   * when signing in (`signingIn`), a key derived from this password that can only wrap is kept;
   * once the server has accepted the password (confirmRekey), unlocking once with the earlier
   * password moves the data key to the new one. */
  function unlock(user, password, signingIn) {
    return open(user).then(function (db) {
      return tx(db, "meta", "readonly", function (s) { return s.get("key"); }).then(function (wrapped) {
        if (!wrapped) {
          var salt = crypto.getRandomValues(new Uint8Array(16));
          return Promise.all([
            kek(password, salt),
            crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"]),
          ]).then(function (keys) {
            return wrapWith(db, keys[1], keys[0], salt).then(function () { return remember(user, keys[1]); });
          }).then(function () { return true; });
        }
        return kek(password, unb64(wrapped.salt)).then(function (k) {
          return crypto.subtle.unwrapKey(
            "raw", unb64(wrapped.wrapped), k, { name: "AES-GCM", iv: unb64(wrapped.iv) },
            { name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"]
          );
        }).then(function (key) {
          return tx(db, "meta", "readonly", function (s) { return s.get("rekey"); }).then(function (rekey) {
            return rekey && rekey.confirmed ? wrapWith(db, key, rekey.kek, unb64(rekey.salt)) : null;
          }).then(function () { return remember(user, key); }).then(function () { return true; });
        }, function () {
          if (!signingIn) return false;
          var salt = crypto.getRandomValues(new Uint8Array(16));
          return kek(password, salt, ["wrapKey"]).then(function (k) {
            return tx(db, "meta", "readwrite", function (s) { s.put({ id: "rekey", salt: b64(salt), kek: k, confirmed: false }); });
          }).then(function () { return false; });
        });
      });
    });
  }

  /* The key of this tab's session, if the user unlocked it and was not idle too long. */
  function resume(user, idleMinutes) {
    var raw = sessionStorage.getItem(KEY_ITEM + user);
    if (!raw) return Promise.resolve(false);
    var last = Number(sessionStorage.getItem(SEEN_ITEM) || 0);
    if (idleMinutes && last && Date.now() - last > idleMinutes * 60000) { lock(user); return Promise.resolve(false); }
    touch();
    if (cache.key && cache.user === user) return Promise.resolve(true);
    return crypto.subtle.importKey("raw", unb64(raw), { name: "AES-GCM" }, true, ["encrypt", "decrypt"]).then(function (key) {
      cache.key = key;
      cache.user = user;
      return open(user).then(function () { return true; });
    });
  }

  /* After a sign-in: the password kept for rekeying was accepted by the server (keep it), or not. */
  function confirmRekey(user, accepted) {
    return open(user).then(function (db) {
      return tx(db, "meta", "readonly", function (s) { return s.get("rekey"); }).then(function (rekey) {
        if (!rekey) return;
        return tx(db, "meta", "readwrite", function (s) {
          if (accepted) { rekey.confirmed = true; s.put(rekey); } else s.delete("rekey");
        });
      });
    });
  }

  function touch() { sessionStorage.setItem(SEEN_ITEM, String(Date.now())); }

  function lock(user) {
    sessionStorage.removeItem(KEY_ITEM + user);
    if (cache.user === user) cache.key = null;
  }

  function hasData(user) {
    return open(user).then(function (db) { return tx(db, "meta", "readonly", function (s) { return s.get("key"); }); })
      .then(function (k) { return !!k; });
  }

  function seal(value) {
    var iv = crypto.getRandomValues(new Uint8Array(12));
    return crypto.subtle.encrypt({ name: "AES-GCM", iv: iv }, cache.key, enc.encode(JSON.stringify(value)))
      .then(function (ct) { return { iv: b64(iv), data: b64(ct) }; });
  }
  function unseal(entry) {
    return crypto.subtle.decrypt({ name: "AES-GCM", iv: unb64(entry.iv) }, cache.key, unb64(entry.data))
      .then(function (pt) { return JSON.parse(dec.decode(pt)); });
  }

  function need() {
    if (!cache.key || !cache.db) return Promise.reject(new Error("locked"));
    return Promise.resolve(cache.db);
  }

  function put(store, id, value) {
    return need().then(function (db) {
      return seal(value).then(function (sealed) {
        sealed.id = id;
        return tx(db, store, "readwrite", function (s) { s.put(sealed); });
      });
    });
  }
  function get(store, id) {
    return need().then(function (db) {
      return tx(db, store, "readonly", function (s) { return s.get(id); }).then(function (e) { return e ? unseal(e) : null; });
    });
  }
  function all(store) {
    return need().then(function (db) {
      return tx(db, store, "readonly", function (s) { return s.getAll(); }).then(function (rows) {
        return Promise.all(rows.map(unseal));
      });
    });
  }
  function del(store, id) {
    return need().then(function (db) { return tx(db, store, "readwrite", function (s) { s.delete(id); }); });
  }

  /* Remove everything this user left on this device (signing out on a shared device). */
  function wipe(user) {
    lock(user);
    if (cache.db && cache.user === user) { cache.db.close(); cache.db = null; }
    return req(indexedDB.deleteDatabase(dbName(user))).catch(function () {});
  }

  window.SanadStore = {
    unlock: unlock, confirmRekey: confirmRekey, resume: resume, lock: lock, touch: touch, hasData: hasData,
    put: put, get: get, all: all, del: del, wipe: wipe,
    unlocked: function (user) { return !!cache.key && cache.user === user; },
  };
})();
