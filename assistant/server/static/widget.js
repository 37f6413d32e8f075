/*
 * Shop assistant chat widget: one script tag builds the whole chat UI on any page.
 *
 *   <script src="https://HOST/widget.js" data-server="https://HOST"></script>
 *
 * Attributes of the script tag (all optional):
 *   data-server  the assistant's base URL (default: the origin of the script's src)
 *   data-target  a CSS selector: build the chat inside that element (default: a chat button
 *                in the page's corner that opens a panel)
 *   data-title   the heading (default "Shopping assistant")
 *   data-lang    the interface's language, "en" or "zh" (default: the browser's)
 *   data-api-key the key, when the server requires API keys (then it is visible in the page:
 *                give embeds a key of their own, and list the site in the server's CORS origins)
 *
 * The UI lives in a shadow root, so the host page's CSS and ours never meet. It speaks the
 * chat protocol of docs/protocol.md over WebSocket /v1/chat, keeps the session id in
 * localStorage to resume the conversation after a reload or a dropped connection, and uses
 * the tool API (POST /v1/tools/{name}) for the cart. Everything the server sends is shown
 * with textContent, never as HTML: product text is data.
 *
 * Plain ES2020, no build step, no dependencies.
 */
(() => {
  "use strict";

  const script = document.currentScript;
  if (!script) return; // loaded as a module or injected oddly: there is no tag to read

  // -- settings --------------------------------------------------------------------------

  // The interface's own strings in the page's language: data-lang="zh" or "en", else the
  // browser's; answers come in the language the shopper writes, whatever this is.
  const LANG = (script.dataset.lang || navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
  const ZH_STRINGS = {
    "Why this?": "为什么推荐？",
    "Dropped to find matches:": "为找到结果已放宽：",
    "Season": "季节",
    "Year": "年份",
    "Usage": "用途",
    "Shopping assistant": "购物助手",
    "Searching the catalogue…": "正在搜索商品…",
    "Looking for products like your photo…": "正在查找与照片相似的商品…",
    "Finding similar products…": "正在查找相似商品…",
    "Looking up the product…": "正在查询商品…",
    "Comparing…": "正在比较…",
    "Counting the options…": "正在统计选项…",
    "Checking your cart…": "正在查看购物车…",
    "Updating your cart…": "正在更新购物车…",
    "Checking the store policies…": "正在查询店铺政策…",
    "Working…": "处理中…",
    "No ranking details for this product.": "这件商品没有排序依据。",
    "This conversation is open in another window, so a new one started here.": "这个对话已在另一个窗口打开，这里开始了新的对话。",
    "Your earlier conversation has ended, so a new one started.": "之前的对话已结束，已为您开始新的对话。",
    "Read answers aloud": "朗读回答",
    "Close the chat": "关闭对话",
    "Your cart": "购物车",
    "Close the cart": "关闭购物车",
    "Ask for a product…": "想找什么商品？",
    "Message": "消息",
    "Add a photo": "添加照片",
    "Add a photo (or drop or paste one)": "添加照片（也可拖放或粘贴）",
    "Stop the answer": "停止回答",
    "Stop": "停止",
    "Drop a photo to find products like it": "拖入照片，查找相似商品",
    "Your photo": "您的照片",
    "Connecting…": "连接中…",
    "Online": "在线",
    "Reconnecting…": "重新连接中…",
    "Not authorised": "未授权",
    "Welcome back! I remember our conversation and your cart.": "欢迎回来！我记得我们的对话和您的购物车。",
    "Hi! Tell me what you are looking for, or add a photo of something you like.": "您好！请告诉我您想找什么，也可以添加一张喜欢的商品照片。",
    "No photo": "无照片",
    "Add to cart": "加入购物车",
    "Added ✓": "已加入 ✓",
    "Try again": "重试",
    "Remove the photo": "移除照片",
    "Remove the clip": "移除视频",
    "Your clip": "您的视频",
    "Product": "商品",
    "on screen at": "出现在",
    "Looking for the products in your clip…": "正在查找视频中的商品…",
    "Not connected: your message will be sent when the connection is back.": "未连接：恢复连接后会发送您的消息。",
    "That file is not a photo the assistant can read (JPEG, PNG, WebP, GIF or BMP).": "这个文件不是可识别的照片（JPEG、PNG、WebP、GIF 或 BMP）。",
    "Add words if you like, e.g. “in black”": "可以补充文字，比如“要黑色的”",
    "Speaking needs a microphone and a secure (https) page": "语音需要麦克风和安全（https）页面",
    "Stop recording and send": "停止录音并发送",
    "Speak": "说话",
    "That was too short to hear. Click the microphone, speak, then click again, or hold it while you speak.": "太短了，没有听清。点击麦克风说话后再点一次，或按住麦克风说话。",
  };
  const t = (text) => (LANG === "zh" && ZH_STRINGS[text]) || text;
  const SERVER = (script.dataset.server || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  const WS_URL = SERVER.replace(/^http/, "ws") + "/v1/chat";
  const TITLE = t(script.dataset.title || "Shopping assistant");
  // The served page (data-key-from-url) may take its key from its own address's fragment,
  // /#api_key=KEY: a fragment is never sent to a server, so it stays out of access logs.
  const API_KEY =
    script.dataset.apiKey ||
    (script.hasAttribute("data-key-from-url") && new URLSearchParams(location.hash.slice(1)).get("api_key")) ||
    null;
  const TARGET = script.dataset.target || null;
  const SESSION_KEY = `shop-assistant:${SERVER}:session`; // per server: two assistants never share an id
  const SPEAKER_KEY = "shop-assistant:speaker";

  const MAX_TEXT_CHARS = 2000; // the server's message limit
  const MAX_PHOTO_BYTES = 20 * 1024 * 1024; // the server's photo limit
  const PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp"];
  const MAX_VIDEO_BYTES = 50 * 1024 * 1024; // the server's clip limit (and 30 seconds)
  const VIDEO_TYPES = ["video/mp4", "video/webm", "video/quicktime"];
  const RECORDING_TYPE = "audio/webm;codecs=opus";
  const MAX_RECORDING_MS = 60_000;
  const MIN_RECORDING_MS = 300; // shorter is a slip of the finger, not speech
  const HOLD_MS = 400; // a mic press held longer than this is push-to-talk: releasing stops it
  const BACKOFF_FIRST_MS = 500;
  const BACKOFF_MAX_MS = 15_000;
  const BUSY_RETRIES = 3; // reconnects refused as "session busy" before starting a new session
  const SESSION_BUSY = 4409; // close code: the session is open on another socket
  const UNAUTHORIZED = 4401; // close code: no API key or a wrong one; retrying cannot help
  // close codes: the stored session is not ours to resume (expired, unknown, another key's)
  const SESSION_GONE = new Set([4404, 4410, 4403]);
  const AUDIO_LEAD_S = 0.05; // schedule each audio chunk this far ahead so chunks join seamlessly
  const MAX_ATTRIBUTES = 4; // attributes shown on a card
  const OUTBOX_LIMIT = 10; // events kept while reconnecting
  const SILENCE_MS = 45_000; // the server sends a heartbeat every 15 s; this long without a frame is a dead link

  const TOOL_LABELS = {
    search_products: "Searching the catalogue…",
    search_by_photo: "Looking for products like your photo…",
    search_by_video: "Looking for the products in your clip…",
    similar_products: "Finding similar products…",
    get_product: "Looking up the product…",
    compare_products: "Comparing…",
    get_facets: "Counting the options…",
    view_cart: "Checking your cart…",
    add_to_cart: "Updating your cart…",
    remove_from_cart: "Updating your cart…",
    answer_policy_question: "Checking the store policies…",
  };
  const CART_TOOLS = new Set(["view_cart", "add_to_cart", "remove_from_cart"]);
  // The index's ranked lists a card's `why` names (assistant/index/schema.py), in shoppers' words.
  const MODALITIES = {
    bm25: "the words of your request in its description",
    text: "a description close in meaning",
    image: "a photo that looks alike",
    clip_text: "a photo that matches your words",
    fused: "all lists together",
    photo_kind: "the kind of product most like your photo",
    photo_gender: "who the products most like your photo are for",
    photo_colour: "the colour of the products most like your photo",
    asked_words: "the words you added in its name",
  };

  // Inline icons (static markup, never data): 24×24, stroked with the current colour.
  const svg = (body) =>
    `<svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="2" ` +
    `stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">${body}</svg>`;
  const ICONS = {
    chat: svg('<path d="M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z"/>'),
    close: svg('<path d="M6 6l12 12M18 6L6 18"/>'),
    send: svg('<path d="M4 12l16-8-6 16-2-7-8-1z"/>'),
    stop: svg('<rect x="6" y="6" width="12" height="12" rx="2" fill="currentColor"/>'),
    photo: svg('<rect x="3" y="5" width="18" height="14" rx="2"/><circle cx="9" cy="10" r="2"/><path d="M21 16l-5-5-9 8"/>'),
    mic: svg('<rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3"/>'),
    speakerOn: svg('<path d="M4 9h4l5-4v14l-5-4H4z"/><path d="M16.5 8.5a5 5 0 0 1 0 7M19 6a8.5 8.5 0 0 1 0 12"/>'),
    speakerOff: svg('<path d="M4 9h4l5-4v14l-5-4H4z"/><path d="M17 9l5 6M22 9l-5 6"/>'),
    cart: svg('<circle cx="9" cy="20" r="1.5"/><circle cx="18" cy="20" r="1.5"/><path d="M2 3h3l2.7 12.4a2 2 0 0 0 2 1.6h7.8a2 2 0 0 0 2-1.5L21 8H6"/>'),
    trash: svg('<path d="M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13"/>'),
  };

  // -- small helpers ---------------------------------------------------------------------

  /** An element: h("button", {class: "x", onclick: f, "aria-label": "y"}, "text", child). */
  function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "icon") el.innerHTML = ICONS[v]; // constant markup only
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) el.append(c);
    return el;
  }

  const titleCase = (s) => String(s).replace(/\b\p{L}/gu, (c) => c.toUpperCase());

  let uid = 0;
  const nextId = (prefix) => `sa-${prefix}-${++uid}`;

  /** Base64 of a Blob or File (FileReader is fast on large files, unlike String.fromCharCode). */
  function toBase64(blob) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(blob);
    });
  }

  function fromBase64(b64) {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function formatPrice(price, currency) {
    if (price === null || price === undefined) return null;
    try {
      if (currency) return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(price);
    } catch (_) {
      /* not an ISO currency code: fall through */
    }
    return new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 }).format(price) + (currency ? ` ${currency}` : "");
  }

  /** A card's `why` ("found by bm25 #2 (0.965), text #3 (0.357)") as shown, with its terms explained. */
  function explainWhy(why) {
    if (!why) return [h("p", { text: t("No ranking details for this product.") })];
    const sentence = why.charAt(0).toUpperCase() + why.slice(1).replace(/\.?$/, ".");
    const named = Object.keys(MODALITIES).filter((m) => new RegExp(`\\b${m} #`).test(why));
    const legend = named.length ? h("ul", {}, ...named.map((m) => h("li", {}, h("b", { text: m }), ` ${MODALITIES[m]}`))) : null;
    return [h("p", { text: sentence }), legend];
  }

  /** A card's photo URL: its own if it is a URL, else the server's copy of the catalogue file. */
  function photoUrl(card) {
    if (!card.image) return null;
    if (/^(https?:|data:image\/)/i.test(card.image)) return card.image;
    return `${SERVER}/v1/images/${encodeURIComponent(card.id)}`;
  }

  // -- the connection: one socket, resumed session, reconnect with backoff -----------------

  class Connection {
    constructor({ onEvent, onState, onNotice }) {
      this.onEvent = onEvent;
      this.onState = onState;
      this.onNotice = onNotice;
      this.ws = null;
      this.ready = false; // session.created received on the current socket
      this.attempt = 0; // failed connects in a row, for the backoff
      this.busy = 0; // "session busy" refusals in a row
      this.outbox = [];
      this.timer = null;
      this.sessionId = readStorage(SESSION_KEY);
      this.token = null; // names this shopper for the server's rate limits (see currentToken())
      this.tokenExpiresAt = 0;
      this.tokenRefused = false; // the server said the token is no longer good: fetch another
      this.lastFrameAt = 0;
      // A link that died without a close (a sleeping laptop, a dropped Wi-Fi) shows as silence.
      setInterval(() => {
        if (this.ws && this.ready && Date.now() - this.lastFrameAt > SILENCE_MS) this.drop(this.ws);
      }, SILENCE_MS / 3);
    }

    /** Give up on a socket that went silent: forget it and reconnect as if it had closed. */
    drop(ws) {
      ws.onmessage = ws.onclose = null;
      try {
        ws.close();
      } catch (_) {
        /* already closing */
      }
      this.closed(ws, { code: 1006 });
    }

    /**
     * A shopper token, fetched once and again before it expires: with it the server's rate
     * limit counts this shopper alone, not everyone behind the same address. A server that
     * has none (older) or a failed fetch leaves the widget on the address's limit.
     */
    async currentToken() {
      if (this.token && Date.now() < this.tokenExpiresAt) return this.token;
      this.token = null;
      try {
        const r = await fetch(`${SERVER}/v1/shopper-token`, { method: "POST", headers: API_KEY ? { "x-api-key": API_KEY } : {} });
        if (r.ok) {
          const body = await r.json();
          this.token = body.token;
          this.tokenExpiresAt = Date.now() + Math.max(0, body.expires_in_s - 60) * 1000;
        }
      } catch (_) {
        /* offline or refused: the address's limit applies */
      }
      return this.token;
    }

    async open() {
      clearTimeout(this.timer);
      this.timer = null;
      if (this.opening) return; // one connect at a time, across the token fetch
      this.opening = true;
      let token;
      try {
        token = await this.currentToken();
      } finally {
        this.opening = false;
      }
      if (this.stopped || this.ws) return;
      const params = new URLSearchParams();
      if (this.sessionId) params.set("session_id", this.sessionId);
      if (API_KEY) params.set("api_key", API_KEY); // a browser cannot set headers on a WebSocket
      if (token) params.set("shopper_token", token);
      const url = params.toString() ? `${WS_URL}?${params}` : WS_URL;
      this.onState(this.attempt === 0 ? "connecting" : "reconnecting");
      let ws;
      try {
        ws = new WebSocket(url);
      } catch (e) {
        this.retry();
        return;
      }
      this.ws = ws;
      this.lastFrameAt = Date.now();
      ws.onmessage = (m) => {
        this.lastFrameAt = Date.now();
        this.received(m.data);
      };
      ws.onclose = (e) => this.closed(ws, e);
    }

    received(raw) {
      let ev;
      try {
        ev = JSON.parse(raw);
      } catch (_) {
        return; // the server only sends JSON text frames
      }
      if (ev.type === "error" && ev.code === "shopper_token_invalid") {
        this.token = null; // the close (4401) follows: reconnect with a new token
        this.tokenRefused = true;
        return;
      }
      // The close that follows these handles them (a retry, or a new session with a notice).
      if (ev.type === "error" && ["session_busy", "session_unknown", "session_expired", "session_forbidden"].includes(ev.code)) return;
      if (ev.type === "session.created") {
        this.ready = true;
        this.attempt = 0;
        this.busy = 0;
        this.sessionId = ev.session_id;
        writeStorage(SESSION_KEY, ev.session_id);
        this.onState("open");
        this.onEvent(ev);
        for (const queued of this.outbox.splice(0)) this.sendNow(queued.ev, queued.blob);
        return;
      }
      this.onEvent(ev);
    }

    closed(ws, e) {
      if (ws !== this.ws) return; // an old socket closing late
      this.ws = null;
      const wasReady = this.ready;
      this.ready = false;
      if (this.stopped) return;
      if (e.code === UNAUTHORIZED && this.tokenRefused) {
        this.tokenRefused = false; // the key is good, the token was stale: once more with a new one
        this.retry();
        return;
      }
      if (e.code === UNAUTHORIZED) {
        this.onState("refused", wasReady); // the error event before the close said why
        return;
      }
      if (SESSION_GONE.has(e.code) && this.sessionId) {
        // The stored id cannot be resumed: start a new session now, and say so.
        this.sessionId = null;
        removeStorage(SESSION_KEY);
        this.attempt = 0;
        this.onNotice(t("Your earlier conversation has ended, so a new one started."));
      }
      if (e.code === SESSION_BUSY) {
        // The server may still hold our previous socket for a moment; after a few tries the
        // session is really open elsewhere (another tab): start a new one here.
        if (++this.busy > BUSY_RETRIES) {
          this.busy = 0;
          this.sessionId = null;
          this.onNotice(t("This conversation is open in another window, so a new one started here."));
        }
      }
      this.onState("reconnecting", wasReady);
      this.retry();
    }

    retry() {
      // Exponential backoff with jitter, so many clients of a restarted server do not return at once.
      const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt++);
      const delay = base * (0.75 + Math.random() / 2);
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.open(), delay);
    }

    /** Reconnect now if waiting (the network came back). */
    nudge() {
      if (!this.ws && this.timer) {
        this.attempt = 0;
        this.open();
      }
    }

    /** Send an event (and the binary frame it declares, if any); returns false if it was queued
     * (or, for a cancel, dropped) instead. */
    send(ev, blob = null) {
      if (this.ready && this.ws && this.ws.readyState === WebSocket.OPEN) {
        this.sendNow(ev, blob);
        return true;
      }
      if (ev.type !== "cancel") {
        this.outbox.push({ ev, blob });
        this.outbox.splice(0, Math.max(0, this.outbox.length - OUTBOX_LIMIT));
      }
      return false;
    }

    sendNow(ev, blob) {
      this.ws.send(JSON.stringify(ev));
      if (blob) this.ws.send(blob); // a clip goes as the binary frame its message declared
    }

    close() {
      this.stopped = true;
      clearTimeout(this.timer);
      if (this.ws) this.ws.close(1000);
    }
  }

  function readStorage(key) {
    try {
      return localStorage.getItem(key);
    } catch (_) {
      return null; // storage blocked (privacy settings): the session lasts as long as the page
    }
  }

  function removeStorage(key) {
    try {
      localStorage.removeItem(key);
    } catch (_) {
      /* storage blocked: nothing kept */
    }
  }

  function writeStorage(key, value) {
    try {
      localStorage.setItem(key, value);
    } catch (_) {
      /* storage blocked: nothing to keep */
    }
  }

  // -- audio out: PCM16 chunks played in order with WebAudio -------------------------------

  class AudioPlayer {
    constructor(onChange) {
      this.onChange = onChange;
      this.ctx = null;
      this.sources = new Set();
      this.nextTime = 0; // when the next chunk starts, in AudioContext seconds
      this.enabled = true;
      this.held = false; // drop chunks of an answer the shopper interrupted, until the next turn
    }

    /** Browsers start audio only after a user gesture, so this runs on every click that may lead to speech. */
    unlock() {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      if (!this.ctx) this.ctx = new Ctx();
      if (this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
    }

    /** Queue one chunk: base64 of PCM16 little-endian mono at `rate` Hz. */
    play(b64, rate) {
      if (!this.enabled || this.held || !b64) return;
      this.unlock();
      if (!this.ctx) return;
      const bytes = fromBase64(b64);
      const n = bytes.byteLength >> 1;
      if (n === 0) return;
      const view = new DataView(bytes.buffer, bytes.byteOffset, n * 2);
      const buffer = this.ctx.createBuffer(1, n, rate || 24000);
      const samples = buffer.getChannelData(0);
      for (let i = 0; i < n; i++) samples[i] = view.getInt16(2 * i, true) / 32768;
      const source = this.ctx.createBufferSource();
      source.buffer = buffer;
      source.connect(this.ctx.destination);
      const at = Math.max(this.nextTime, this.ctx.currentTime + AUDIO_LEAD_S);
      source.start(at);
      this.nextTime = at + buffer.duration;
      this.sources.add(source);
      source.onended = () => {
        this.sources.delete(source);
        this.onChange();
      };
      this.onChange();
    }

    stop() {
      for (const s of this.sources) {
        try {
          s.stop();
        } catch (_) {
          /* already stopped */
        }
      }
      this.sources.clear();
      this.nextTime = 0;
      this.onChange();
    }

    get playing() {
      return this.sources.size > 0;
    }
  }

  // -- audio in: one MediaRecorder recording --------------------------------------------------

  class Recorder {
    static supported() {
      return Boolean(window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder);
    }

    async start() {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
      const options = MediaRecorder.isTypeSupported(RECORDING_TYPE) ? { mimeType: RECORDING_TYPE } : undefined;
      this.recorder = new MediaRecorder(this.stream, options);
      this.chunks = [];
      this.recorder.ondataavailable = (e) => e.data.size && this.chunks.push(e.data);
      this.recorder.start(250); // ms per chunk, so a stop loses at most a quarter second
      this.startedAt = performance.now();
    }

    /** Stop; resolves to {blob, ms, format}. */
    stop() {
      return new Promise((resolve) => {
        const rec = this.recorder;
        rec.onstop = () => {
          this.stream.getTracks().forEach((t) => t.stop());
          const type = rec.mimeType || RECORDING_TYPE;
          // The container, as the server names formats: "webm" from Chrome and Firefox, "m4a" from Safari.
          const container = (type.match(/^audio\/([\w-]+)/) || [])[1] || "webm";
          const format = { mp4: "m4a", "x-m4a": "m4a", mpeg: "mp3", "x-wav": "wav", wave: "wav" }[container] || container;
          resolve({ blob: new Blob(this.chunks, { type }), ms: performance.now() - this.startedAt, format });
        };
        rec.stop();
      });
    }
  }

  // -- the widget --------------------------------------------------------------------------

  class Widget {
    constructor(host, mode) {
      this.host = host;
      this.mode = mode; // "inline" | "floating"
      this.turn = null; // the assistant message being streamed: {el, activity, texts, streaming}
      this.photo = null; // the attached photo: {mediaType, data, url, name}
      this.tools = new Map(); // toolCallId → toolName, to notice cart changes made in the chat
      this.voiceBubble = null; // the user message a recording's transcript goes into
      this.recorder = null;
      this.lastMessage = null; // for t("Try again") after a retryable error
      this.welcomed = false;
      this.cartItems = 0;
      this.stick = true; // keep the newest content in view, until the shopper scrolls up

      this.audio = new AudioPlayer(() => this.root.toggleAttribute("data-playing", this.audio.playing));
      this.audio.enabled = readStorage(SPEAKER_KEY) !== "off";
      this.conn = new Connection({
        onEvent: (ev) => this.dispatch(ev),
        onState: (state, dropped) => this.connectionState(state, dropped),
        onNotice: (text) => this.addNotice(text),
      });

      this.build();
      this.conn.open();
      window.addEventListener("online", () => this.conn.nudge());
      // Close cleanly on leaving, so a reload resumes the session without a "busy" wait.
      window.addEventListener("pagehide", () => this.conn.close());
      window.addEventListener("pageshow", (e) => {
        if (!e.persisted) return; // restored from the back/forward cache: connect again
        this.conn.stopped = false;
        this.conn.open();
      });
    }

    // ---- building the DOM ----

    build() {
      const shadow = this.host.attachShadow({ mode: "open" });
      this.host.setAttribute("data-mode", this.mode);
      // Our stylesheet, inside the shadow root only; hide until it loads to avoid a flash.
      this.host.style.visibility = "hidden";
      const css = h("link", { rel: "stylesheet", href: `${SERVER}/widget.css` });
      const show = () => this.host.style.removeProperty("visibility");
      css.addEventListener("load", show);
      css.addEventListener("error", show);
      shadow.append(css);

      const ids = { title: nextId("title"), cart: nextId("cart"), cartTitle: nextId("cart-title"), input: nextId("input"), panel: nextId("panel") };
      this.ids = ids;

      this.status = h("span", { class: "sa-status", role: "status", text: t("Connecting…") });
      this.speakerButton = h("button", {
        type: "button",
        class: "sa-icon-button sa-speaker",
        "aria-pressed": String(this.audio.enabled),
        "aria-label": t("Read answers aloud"),
        title: t("Read answers aloud"),
        onclick: () => this.toggleSpeaker(),
        icon: this.audio.enabled ? "speakerOn" : "speakerOff",
      });
      this.cartBadge = h("span", { class: "sa-badge", "aria-hidden": "true", text: "0", hidden: true });
      this.cartButton = h(
        "button",
        { type: "button", class: "sa-icon-button sa-cart-button", "aria-expanded": "false", "aria-controls": ids.cart, "aria-label": "Cart, 0 items", onclick: () => this.toggleCart() },
        h("span", { class: "sa-icon", icon: "cart" }),
        this.cartBadge,
      );
      const closeButton =
        this.mode === "floating"
          ? h("button", { type: "button", class: "sa-icon-button sa-close", "aria-label": t("Close the chat"), icon: "close", onclick: () => this.setOpen(false) })
          : null;
      const header = h(
        "header",
        { class: "sa-header" },
        h("div", { class: "sa-heading" }, h("h2", { id: ids.title, class: "sa-title", text: TITLE }), this.status),
        h("div", { class: "sa-header-actions" }, this.speakerButton, this.cartButton, closeButton),
      );

      this.log = h("div", { class: "sa-log", role: "log", "aria-labelledby": ids.title, tabindex: "0" });
      // Growing content fires no scroll event, so this tells a shopper's scroll from new content.
      this.log.addEventListener("scroll", () => {
        this.stick = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 80;
      });

      this.cartLines = h("ul", { class: "sa-cart-lines" });
      this.cartEmpty = h("p", { class: "sa-cart-empty", text: "Your cart is empty." });
      this.cartSummary = h("p", { class: "sa-cart-summary" });
      this.cartPanel = h(
        "section",
        { class: "sa-cart", id: ids.cart, "aria-labelledby": ids.cartTitle, hidden: true },
        h(
          "div",
          { class: "sa-cart-header" },
          h("h3", { id: ids.cartTitle, text: t("Your cart") }),
          h("button", { type: "button", class: "sa-icon-button", "aria-label": t("Close the cart"), icon: "close", onclick: () => this.toggleCart(false) }),
        ),
        this.cartEmpty,
        this.cartLines,
        this.cartSummary,
      );

      this.fileInput = h("input", { type: "file", accept: [...PHOTO_TYPES, ...VIDEO_TYPES].join(","), class: "sa-file", tabindex: "-1", "aria-hidden": "true" });
      this.fileInput.addEventListener("change", () => {
        if (this.fileInput.files && this.fileInput.files[0]) this.attach(this.fileInput.files[0]);
        this.fileInput.value = ""; // choosing the same file again fires change again
      });
      this.attachment = h("div", { class: "sa-attachment", hidden: true });
      this.recording = h("div", { class: "sa-recording", hidden: true, role: "status" });
      this.input = h("textarea", {
        id: ids.input,
        class: "sa-input",
        rows: "1",
        maxlength: String(MAX_TEXT_CHARS),
        placeholder: t("Ask for a product…"),
        "aria-label": t("Message"),
        enterkeyhint: "send",
      });
      this.input.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          this.submit();
        }
      });
      this.input.addEventListener("input", () => this.fitInput());
      this.input.addEventListener("paste", (e) => this.pasted(e));

      const photoButton = h("button", {
        type: "button",
        class: "sa-icon-button sa-photo-button",
        "aria-label": t("Add a photo"),
        title: t("Add a photo (or drop or paste one)"),
        icon: "photo",
        onclick: () => this.fileInput.click(),
      });
      this.micButton = h("button", { type: "button", class: "sa-icon-button sa-mic", "aria-pressed": "false", "aria-label": t("Speak"), title: "Speak (click, or hold)", icon: "mic" });
      this.wireMic();
      this.stopButton = h("button", { type: "button", class: "sa-icon-button sa-stop", "aria-label": t("Stop the answer"), title: t("Stop"), icon: "stop", hidden: true, onclick: () => this.cancel() });
      this.sendButton = h("button", { type: "submit", class: "sa-send", "aria-label": "Send", title: "Send", icon: "send" });
      const form = h(
        "form",
        { class: "sa-composer", onsubmit: (e) => (e.preventDefault(), this.submit()) },
        this.attachment,
        this.recording,
        h("div", { class: "sa-row" }, photoButton, this.fileInput, this.input, this.micButton, this.stopButton, this.sendButton),
      );

      this.dropOverlay = h("div", { class: "sa-drop", hidden: true, "aria-hidden": "true" }, h("p", { text: t("Drop a photo to find products like it") }));
      this.panel = h(
        "div",
        { class: "sa-panel", id: ids.panel, role: "region", "aria-labelledby": ids.title },
        header,
        h("div", { class: "sa-body" }, this.log, this.cartPanel),
        form,
        this.dropOverlay,
      );
      this.root = h("div", { class: "sa-root", "data-state": "connecting" }, this.panel);
      this.wireDrop();
      this.panel.addEventListener("keydown", (e) => {
        if (e.key !== "Escape") return;
        if (this.recorder) this.stopRecording(true);
        else if (!this.cartPanel.hidden) this.toggleCart(false);
        else if (this.mode === "floating") this.setOpen(false);
      });

      if (this.mode === "floating") {
        this.launcher = h("button", {
          type: "button",
          class: "sa-launcher",
          "aria-label": `Open the ${TITLE.toLowerCase()}`,
          "aria-expanded": "false",
          "aria-controls": ids.panel,
          icon: "chat",
          onclick: () => this.setOpen(true),
        });
        this.root.append(this.launcher);
        this.setOpen(false, false);
      }
      shadow.append(this.root);
    }

    /** Floating mode: show the panel or the chat button (moving the focus when the shopper asked). */
    setOpen(open, moveFocus = true) {
      this.root.toggleAttribute("data-open", open);
      this.panel.hidden = !open;
      this.launcher.hidden = open;
      this.launcher.setAttribute("aria-expanded", String(open));
      if (!moveFocus) return;
      if (open) this.input.focus();
      else this.launcher.focus({ preventScroll: true });
    }

    /** Grow the message box with its text (up to 160 px), back to one line when empty. */
    fitInput() {
      this.input.style.height = "";
      if (!this.input.value) return; // an empty box's scrollHeight counts a wrapped placeholder
      this.input.style.height = "auto";
      this.input.style.height = `${Math.min(this.input.scrollHeight + 2, 160)}px`;
    }

    // ---- the conversation log ----

    /** Append to the log, keeping the newest content in view unless the shopper scrolled up. */
    append(el) {
      this.log.append(el);
      this.follow();
      return el;
    }

    follow() {
      if (this.stick) this.log.scrollTop = this.log.scrollHeight;
    }

    addUserMessage(text, photo, video = false) {
      this.stick = true; // the shopper spoke: follow the answer
      const msg = h("div", { class: "sa-msg sa-user" });
      if (photo && video) msg.append(h("video", { class: "sa-msg-photo", src: photo, controls: true, muted: true, playsinline: true, "aria-label": t("Your clip") }));
      else if (photo) msg.append(h("img", { class: "sa-msg-photo", src: photo, alt: t("Your photo"), onload: () => this.follow() }));
      if (text) msg.append(h("p", { class: "sa-msg-text", text }));
      return this.append(msg);
    }

    addNotice(text) {
      return this.append(h("p", { class: "sa-notice", text }));
    }

    addAssistantNote(text) {
      return this.append(h("div", { class: "sa-msg sa-assistant" }, h("p", { class: "sa-msg-text", text })));
    }

    connectionState(state, dropped) {
      this.root.setAttribute("data-state", state);
      const label = { connecting: t("Connecting…"), open: t("Online"), reconnecting: t("Reconnecting…"), refused: t("Not authorised") }[state] || state;
      this.status.textContent = label;
      if (dropped && this.turn && this.turn.streaming) this.endTurn("interrupted");
    }

    // ---- server events ----

    dispatch(ev) {
      const handler = EVENT_HANDLERS[ev.type];
      if (handler) handler.call(this, ev);
      // Unknown types are ignored: a newer server may send events this widget does not know.
    }

    sessionCreated(ev) {
      if (!this.audio.enabled) this.sendVoiceSettings(); // the server speaks by default
      if (this.welcomed) return;
      this.welcomed = true;
      this.addAssistantNote(
        ev.resumed
          ? t("Welcome back! I remember our conversation and your cart.")
          : t("Hi! Tell me what you are looking for, or add a photo of something you like."),
      );
      this.refreshCart();
    }

    beginTurn(ev) {
      if (this.turn && this.turn.streaming) this.endTurn("stopped");
      this.audio.held = false; // a new answer may speak
      const activity = h("p", { class: "sa-activity", text: "Thinking…" });
      const el = h("div", { class: "sa-msg sa-assistant", "data-message-id": ev.messageId || "" }, activity);
      this.turn = { el, activity, texts: new Map(), streaming: true };
      this.append(el);
      this.setStreaming(true);
    }

    /** The current turn's message, created if an event arrives without a `start`. */
    currentTurn() {
      if (!this.turn || !this.turn.streaming) this.beginTurn({});
      return this.turn;
    }

    setActivity(text) {
      const t = this.currentTurn();
      t.activity.textContent = text || "";
      t.activity.hidden = !text;
    }

    toolStarted(ev) {
      this.tools.set(ev.toolCallId, ev.toolName);
      this.setActivity(t(TOOL_LABELS[ev.toolName] || "Working…"));
    }

    toolFinished(ev) {
      // A cart changed in the conversation ("yes, add it") updates the cart button too.
      if (CART_TOOLS.has(this.tools.get(ev.toolCallId)) && ev.output && Array.isArray(ev.output.lines)) this.renderCart(ev.output);
      this.tools.delete(ev.toolCallId);
    }

    showProducts(data) {
      const products = (data && data.products) || [];
      if (!products.length) return;
      const grid = h("div", { class: "sa-cards", role: "list", "aria-label": `${products.length} products` });
      for (const p of products) grid.append(this.card(p));
      const turn = this.currentTurn();
      const blocks = [grid];
      const group = data.group; // a clip's product: its cards under when it was on screen
      if (group) {
        const seen = (group.seen || []).map((s) => `${Math.round(s.start_s)}-${Math.round(s.end_s)} s`).join(", ");
        blocks.unshift(h("p", { class: "sa-group", text: `${t("Product")} ${group.item} · ${t("on screen at")} ${seen}` }));
      }
      if (data.filters_relaxed && data.filters_relaxed.length) {
        blocks.push(h("p", { class: "sa-filters", text: `${t("Dropped to find matches:")} ${data.filters_relaxed.join("; ")}` }));
      }
      // after the cards already shown in this turn (a clip's groups come in order), else first
      const after = turn.lastCards || turn.activity;
      after.after(...blocks);
      turn.lastCards = blocks[blocks.length - 1];
      this.scrollToEnd();
    }

    card(p) {
      const whyId = nextId("why");
      const url = photoUrl(p);
      const photo = h("div", { class: "sa-card-photo" });
      if (url) {
        const img = h("img", { src: url, alt: p.name, loading: "lazy", decoding: "async" });
        img.addEventListener("error", () => img.replaceWith(h("span", { class: "sa-card-nophoto", text: t("No photo") })));
        photo.append(img);
      } else {
        photo.append(h("span", { class: "sa-card-nophoto", text: t("No photo") }));
      }
      const meta = [p.brand, p.colour, p.gender].filter(Boolean).join(" · ");
      const price = formatPrice(p.price, p.currency);
      const attrs = Object.entries(p.attributes || {})
        .filter(([k]) => !/^(master_category|sub_category|article_type)$/.test(k)) // already the category
        .slice(0, MAX_ATTRIBUTES);
      const why = h("div", { class: "sa-why", id: whyId, hidden: true }, ...explainWhy(p.why));
      const whyButton = h("button", { type: "button", class: "sa-link sa-why-toggle", "aria-expanded": "false", "aria-controls": whyId, text: t("Why this?") });
      whyButton.addEventListener("click", () => {
        why.hidden = !why.hidden;
        whyButton.setAttribute("aria-expanded", String(!why.hidden));
      });
      const add = h("button", { type: "button", class: "sa-add", text: t("Add to cart"), "aria-label": `Add ${p.name} to the cart` });
      add.addEventListener("click", () => this.addToCart(p, add));
      return h(
        "article",
        { class: "sa-card", role: "listitem", "data-product-id": p.id, "aria-label": p.name },
        photo,
        h(
          "div",
          { class: "sa-card-body" },
          h("h4", { class: "sa-card-name", text: p.name }),
          meta ? h("p", { class: "sa-card-meta", text: meta }) : null,
          price ? h("p", { class: "sa-card-price", text: price }) : null,
          attrs.length
            ? h("dl", { class: "sa-card-attrs" }, ...attrs.flatMap(([k, v]) => [h("dt", { text: t(titleCase(k.replace(/_/g, " "))) }), h("dd", { text: String(v) })]))
            : null,
          why,
          h("div", { class: "sa-card-actions" }, whyButton, add),
        ),
      );
    }

    showFacets(data) {
      const values = (data && data.values) || [];
      if (!values.length) return;
      const field = data.field || "option";
      const question = `Which ${field}?`;
      const group = h("div", { class: "sa-facets", role: "group", "aria-label": question }, h("p", { class: "sa-facets-question", text: question }));
      for (const v of values) {
        const label = titleCase(v.value);
        const chip = h("button", { type: "button", class: "sa-chip", "data-value": v.value, "aria-label": `${label}, ${v.count} products` }, label, h("span", { class: "sa-chip-count", text: String(v.count) }));
        chip.addEventListener("click", () => {
          for (const c of group.querySelectorAll(".sa-chip")) c.disabled = true;
          chip.setAttribute("aria-pressed", "true");
          this.log.focus({ preventScroll: true }); // the chip is disabled now; keep the focus in the widget
          // "only X" keeps the earlier request: the planner reads a message starting with
          // "only" as a refinement, while a bare "X" would be a new search for X alone.
          this.sendMessage(LANG === "zh" ? `只看 ${label}` : `only ${label}`);
        });
        group.append(chip);
      }
      const t = this.currentTurn();
      t.el.append(group);
      this.scrollToEnd();
    }

    textStart(id) {
      const t = this.currentTurn();
      this.setActivity("");
      const p = h("p", { class: "sa-msg-text sa-streaming" });
      t.texts.set(id, p);
      const facets = t.el.querySelector(".sa-facets"); // the words come before the options they ask about
      if (facets) t.el.insertBefore(p, facets);
      else t.el.append(p);
    }

    textDelta(id, delta) {
      const t = this.currentTurn();
      if (!t.texts.has(id)) this.textStart(id);
      t.texts.get(id).textContent += delta;
      this.follow();
    }

    textEnd(id) {
      const p = this.turn && this.turn.texts.get(id);
      if (p) p.classList.remove("sa-streaming");
    }

    showError(ev) {
      if (ev.code === "nothing_to_cancel") return; // the answer ended as the stop was pressed
      const box = h("div", { class: "sa-error", role: "alert" }, h("p", { text: ev.errorText || "Something went wrong." }));
      if (ev.retryable && this.lastMessage) {
        const again = this.lastMessage;
        const blob = this.lastBlob;
        box.append(h("button", { type: "button", class: "sa-link", text: t("Try again"), onclick: () => this.resend(again, true, blob) }));
      }
      if (this.turn && this.turn.streaming) {
        this.setActivity("");
        this.turn.el.append(box);
        this.scrollToEnd();
      } else {
        const last = this.log.lastElementChild;
        const repeated = last && last.querySelector(".sa-error") && last.textContent === box.textContent;
        if (!repeated) this.append(h("div", { class: "sa-msg sa-assistant" }, box)); // e.g. each refused reconnect
      }
      if (this.voiceBubble) this.voiceBubble.remove(); // an audio refusal: the recording is gone
      this.voiceBubble = null;
    }

    endTurn(how) {
      const t = this.turn;
      if (!t || !t.streaming) return;
      t.streaming = false;
      t.activity.hidden = true;
      for (const p of t.texts.values()) p.classList.remove("sa-streaming");
      if (how === "stopped") t.el.append(h("p", { class: "sa-notice", text: "Stopped." }));
      if (how === "interrupted") t.el.append(h("p", { class: "sa-notice", text: "The connection dropped; this answer is incomplete." }));
      if (!t.el.querySelector(".sa-msg-text, .sa-cards, .sa-error, .sa-notice")) t.el.remove(); // an empty turn
      this.setStreaming(false);
    }

    setStreaming(on) {
      this.root.toggleAttribute("data-streaming", on);
      this.log.setAttribute("aria-busy", String(on)); // screen readers read the answer once, complete
      this.stopButton.hidden = !on;
    }

    /** Show the newest content (the shopper acted, or it belongs to the answer being followed). */
    scrollToEnd(force = false) {
      if (force) this.stick = true;
      this.follow();
    }

    // ---- voice events ----

    transcript(text, final, language) {
      if (!this.voiceBubble) this.voiceBubble = this.addUserMessage("", null);
      const bubble = this.voiceBubble;
      let p = bubble.querySelector(".sa-msg-text");
      if (!p) p = bubble.appendChild(h("p", { class: "sa-msg-text" }));
      p.textContent = text || (final ? "(nothing heard)" : "…");
      bubble.classList.toggle("sa-pending", !final);
      if (final) {
        if (language) p.setAttribute("lang", language);
        this.voiceBubble = null;
      }
      this.scrollToEnd();
    }

    // ---- sending ----

    submit() {
      const text = this.input.value.trim();
      if (!text && !this.photo) {
        this.input.focus();
        return;
      }
      const photo = this.photo;
      if (photo) photo.sent = true; // its object URL now plays in the conversation
      this.sendMessage(text, photo);
      this.input.value = "";
      this.fitInput();
      this.clearPhoto();
      this.input.focus();
    }

    sendMessage(text, photo = null) {
      const ev = { type: "message", text };
      let blob = null;
      if (photo && photo.video) {
        ev.video = { media_type: photo.mediaType, binary: true };
        blob = photo.file;
      } else if (photo) {
        ev.image = { media_type: photo.mediaType, data: photo.data };
      }
      this.addUserMessage(text, photo && photo.url, photo && photo.video);
      this.resend(ev, false, blob);
    }

    resend(ev, echo = true, blob = null) {
      if (echo) this.addUserMessage(ev.text, null);
      this.lastMessage = ev;
      this.lastBlob = blob;
      this.audio.unlock();
      this.audio.stop(); // a new message interrupts the spoken answer; the server stops the text
      if (!this.conn.send(ev, blob)) this.addNotice(t("Not connected: your message will be sent when the connection is back."));
      this.scrollToEnd(true);
    }

    cancel() {
      this.audio.stop();
      this.audio.held = true;
      this.conn.send({ type: "cancel" });
    }

    // ---- photos: file input, drag and drop, paste ----

    async attach(file) {
      if (VIDEO_TYPES.includes(file.type)) {
        if (file.size > MAX_VIDEO_BYTES) {
          this.showError({ errorText: `That clip is ${(file.size / 1048576).toFixed(1)} MB; the limit is 50 MB.` });
          return;
        }
        const url = URL.createObjectURL(file);
        this.photo = { mediaType: file.type, file, url, name: file.name || "clip", video: true };
        this.attachment.replaceChildren(
          h("video", { src: url, muted: true, playsinline: true }),
          h("span", { class: "sa-attachment-name", text: this.photo.name }),
          h("button", { type: "button", class: "sa-icon-button", "aria-label": t("Remove the clip"), icon: "close", onclick: () => this.clearPhoto() }),
        );
        this.attachment.hidden = false;
        this.input.placeholder = t("Add words if you like, e.g. “in black”");
        this.input.focus();
        return;
      }
      if (!PHOTO_TYPES.includes(file.type)) {
        this.showError({ errorText: t("That file is not a photo the assistant can read (JPEG, PNG, WebP, GIF or BMP).") });
        return;
      }
      if (file.size > MAX_PHOTO_BYTES) {
        this.showError({ errorText: `That photo is ${(file.size / 1048576).toFixed(1)} MB; the limit is 20 MB.` });
        return;
      }
      const data = await toBase64(file);
      this.photo = { mediaType: file.type, data, url: `data:${file.type};base64,${data}`, name: file.name || "photo" };
      this.attachment.replaceChildren(
        h("img", { src: this.photo.url, alt: "" }),
        h("span", { class: "sa-attachment-name", text: this.photo.name }),
        h("button", { type: "button", class: "sa-icon-button", "aria-label": t("Remove the photo"), icon: "close", onclick: () => this.clearPhoto() }),
      );
      this.attachment.hidden = false;
      this.input.placeholder = t("Add words if you like, e.g. “in black”");
      this.input.focus();
    }

    clearPhoto() {
      if (this.photo && this.photo.video && !this.photo.sent) URL.revokeObjectURL(this.photo.url);
      this.photo = null;
      this.attachment.hidden = true;
      this.attachment.replaceChildren();
      this.input.placeholder = t("Ask for a product…");
    }

    pasted(e) {
      const file = [...((e.clipboardData && e.clipboardData.files) || [])].find((f) => f.type.startsWith("image/"));
      if (!file) return; // ordinary text paste
      e.preventDefault();
      this.attach(file);
    }

    wireDrop() {
      let depth = 0; // dragenter/leave fire for every child crossed; count to know when the drag left
      const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
      this.panel.addEventListener("dragenter", (e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        depth++;
        this.dropOverlay.hidden = false;
      });
      this.panel.addEventListener("dragover", (e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = "copy";
      });
      this.panel.addEventListener("dragleave", () => {
        if (--depth <= 0) {
          depth = 0;
          this.dropOverlay.hidden = true;
        }
      });
      this.panel.addEventListener("drop", (e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        depth = 0;
        this.dropOverlay.hidden = true;
        const file = [...e.dataTransfer.files].find((f) => f.type.startsWith("image/") || f.type.startsWith("video/")) || e.dataTransfer.files[0];
        if (file) this.attach(file);
      });
    }

    // ---- microphone ----

    wireMic() {
      const mic = this.micButton;
      if (!Recorder.supported()) {
        mic.disabled = true;
        mic.title = t("Speaking needs a microphone and a secure (https) page");
        return;
      }
      let pressedAt = 0;
      mic.addEventListener("pointerdown", (e) => {
        if (e.button !== 0) return;
        e.preventDefault(); // keep the focus where it is; no text selection on touch
        pressedAt = performance.now();
        if (this.recorder) this.stopRecording();
        else this.startRecording();
      });
      mic.addEventListener("pointerup", () => {
        // Held down: push-to-talk, releasing sends. A short press toggles: recording goes on.
        if (this.recorder && performance.now() - pressedAt > HOLD_MS) this.stopRecording();
      });
      mic.addEventListener("click", (e) => {
        if (e.detail !== 0) return; // pointer clicks were handled above; detail 0 is the keyboard
        if (this.recorder) this.stopRecording();
        else this.startRecording();
      });
    }

    async startRecording() {
      if (this.recorder || this.starting) return;
      this.starting = true;
      // Barge-in: the shopper speaks over the answer, so it stops.
      this.audio.unlock();
      if (this.audio.playing) this.audio.stop();
      if (this.turn && this.turn.streaming) this.cancel();
      this.audio.held = true; // the interrupted answer's remaining audio is dropped
      const recorder = new Recorder();
      try {
        await recorder.start();
      } catch (e) {
        this.starting = false;
        const reason = e && e.name === "NotAllowedError" ? "permission was refused" : (e && e.message) || "it could not start";
        this.showError({ errorText: `The microphone is not available: ${reason}.` });
        return;
      }
      this.starting = false;
      this.recorder = recorder;
      this.root.setAttribute("data-recording", "");
      this.micButton.setAttribute("aria-pressed", "true");
      this.micButton.setAttribute("aria-label", t("Stop recording and send"));
      this.recording.hidden = false;
      const tick = () => {
        const s = Math.floor((performance.now() - recorder.startedAt) / 1000);
        this.recording.textContent = `Listening… ${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")} (Esc to cancel)`;
      };
      tick();
      this.recordingTimer = setInterval(tick, 500);
      this.recordingLimit = setTimeout(() => this.stopRecording(), MAX_RECORDING_MS);
    }

    /** Stop recording; send it unless `discard`. */
    async stopRecording(discard = false) {
      const recorder = this.recorder;
      if (!recorder) return;
      this.recorder = null;
      clearInterval(this.recordingTimer);
      clearTimeout(this.recordingLimit);
      this.root.removeAttribute("data-recording");
      this.micButton.setAttribute("aria-pressed", "false");
      this.micButton.setAttribute("aria-label", t("Speak"));
      this.recording.hidden = true;
      const { blob, ms, format } = await recorder.stop();
      if (discard) return;
      if (ms < MIN_RECORDING_MS || blob.size === 0) {
        this.addNotice(t("That was too short to hear. Click the microphone, speak, then click again, or hold it while you speak."));
        return;
      }
      const audio = await toBase64(blob);
      this.voiceBubble = this.addUserMessage("…", null);
      this.voiceBubble.classList.add("sa-pending");
      this.conn.send({ type: "input_audio_buffer.append", audio, format });
      this.conn.send({ type: "input_audio_buffer.commit" });
    }

    toggleSpeaker() {
      this.audio.enabled = !this.audio.enabled;
      if (!this.audio.enabled) this.audio.stop();
      else this.audio.unlock();
      writeStorage(SPEAKER_KEY, this.audio.enabled ? "on" : "off");
      this.sendVoiceSettings();
      this.speakerButton.setAttribute("aria-pressed", String(this.audio.enabled));
      this.speakerButton.innerHTML = ICONS[this.audio.enabled ? "speakerOn" : "speakerOff"];
    }

    /** Tell the server whether to speak answers (it then skips the speech synthesis too). */
    sendVoiceSettings() {
      if (this.conn.ready) this.conn.send({ type: "session.update", session: { output_audio: this.audio.enabled } });
    }

    // ---- the cart (tool API) ----

    async callTool(name, args) {
      if (!this.conn.sessionId) throw new Error("not connected yet");
      const r = await fetch(`${SERVER}/v1/tools/${name}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-session-id": this.conn.sessionId,
          ...(API_KEY ? { "x-api-key": API_KEY } : {}),
          ...(this.conn.token ? { "x-shopper-token": this.conn.token } : {}),
        },
        body: JSON.stringify(args),
      });
      const body = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(body.error || body.detail || `the server answered ${r.status}`);
      return body;
    }

    async addToCart(p, button) {
      // aria-disabled, not disabled: a disabled button drops the keyboard focus.
      if (button.getAttribute("aria-disabled") === "true") return;
      button.setAttribute("aria-disabled", "true");
      try {
        this.renderCart(await this.callTool("add_to_cart", { product_id: p.id, quantity: 1 }));
        button.textContent = t("Added ✓");
        button.classList.add("sa-added");
        this.status.textContent = `Added ${p.name} to the cart`; // announced by the status region
        setTimeout(() => {
          button.textContent = t("Add to cart");
          button.classList.remove("sa-added");
          this.connectionState(this.root.getAttribute("data-state"));
        }, 2000);
      } catch (e) {
        this.showError({ errorText: `Could not add ${p.name} to the cart: ${e.message}.` });
      } finally {
        button.removeAttribute("aria-disabled");
      }
    }

    async removeFromCart(line) {
      try {
        this.renderCart(await this.callTool("remove_from_cart", { product_id: line.product_id }));
      } catch (e) {
        this.showError({ errorText: `Could not remove ${line.name}: ${e.message}.` });
      }
    }

    async refreshCart() {
      try {
        this.renderCart(await this.callTool("view_cart", {}));
      } catch (_) {
        /* the cart button keeps its last count; opening the cart tries again */
      }
    }

    renderCart(cart) {
      this.cartItems = cart.items || 0;
      this.cartBadge.textContent = String(this.cartItems);
      this.cartBadge.hidden = this.cartItems === 0;
      this.cartButton.setAttribute("aria-label", `Cart, ${this.cartItems} item${this.cartItems === 1 ? "" : "s"}`);
      const lines = cart.lines || [];
      this.cartEmpty.hidden = lines.length > 0;
      this.cartSummary.textContent = lines.length ? `${this.cartItems} item${this.cartItems === 1 ? "" : "s"}` : "";
      this.cartLines.replaceChildren(
        ...lines.map((line) =>
          h(
            "li",
            { class: "sa-cart-line", "data-product-id": line.product_id },
            h("img", { src: `${SERVER}/v1/images/${encodeURIComponent(line.product_id)}`, alt: "", loading: "lazy", onerror: (e) => (e.target.hidden = true) }),
            h("span", { class: "sa-cart-name", text: line.name }),
            h("span", { class: "sa-cart-quantity", text: `× ${line.quantity}` }),
            h("button", { type: "button", class: "sa-icon-button", "aria-label": `Remove ${line.name}`, icon: "trash", onclick: () => this.removeFromCart(line) }),
          ),
        ),
      );
    }

    toggleCart(open = this.cartPanel.hidden) {
      this.cartPanel.hidden = !open;
      this.cartButton.setAttribute("aria-expanded", String(open));
      if (open) {
        this.refreshCart();
        this.cartPanel.querySelector("button").focus();
      } else {
        this.cartButton.focus();
      }
    }
  }

  // Every server event the widget understands (docs/protocol.md); others are ignored.
  const EVENT_HANDLERS = {
    "session.created": Widget.prototype.sessionCreated,
    start: Widget.prototype.beginTurn,
    "tool-input-available": Widget.prototype.toolStarted,
    "tool-output-available": Widget.prototype.toolFinished,
    "data-products": function (ev) {
      this.showProducts(ev.data);
    },
    "data-facets": function (ev) {
      this.showFacets(ev.data);
    },
    "data-notice": function (ev) {
      if (ev.data && ev.data.text) this.currentTurn().el.append(h("p", { class: "sa-notice", text: ev.data.text }));
    },
    "text-start": function (ev) {
      this.textStart(ev.id);
    },
    "text-delta": function (ev) {
      this.textDelta(ev.id, ev.delta || "");
    },
    "text-end": function (ev) {
      this.textEnd(ev.id);
    },
    error: Widget.prototype.showError,
    finish: function () {
      this.endTurn("done");
    },
    abort: function () {
      this.endTurn("stopped");
    },
    // Voice (OpenAI Realtime names): the transcript of the shopper's recording, then speech.
    "input_audio_buffer.speech_started": function () {
      this.audio.stop();
    },
    "conversation.item.input_audio_transcription.delta": function (ev) {
      this.transcript(ev.transcript, false);
    },
    "conversation.item.input_audio_transcription.completed": function (ev) {
      this.transcript(ev.transcript, true, ev.language);
    },
    "response.audio.delta": function (ev) {
      this.audio.play(ev.audio, ev.sample_rate);
    },
    "response.audio.done": function () {},
  };

  // -- mount -------------------------------------------------------------------------------

  function mount() {
    const target = TARGET ? document.querySelector(TARGET) : null;
    const host = document.createElement("shop-assistant");
    if (target) {
      target.append(host);
      new Widget(host, "inline");
    } else {
      if (TARGET) console.warn(`shop-assistant: no element matches data-target=${JSON.stringify(TARGET)}; showing a chat button instead`);
      document.body.append(host);
      new Widget(host, "floating");
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount, { once: true });
  else mount();
})();
