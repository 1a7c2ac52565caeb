/* Types for the type check of the phone scripts (tsconfig.json; `make lint` runs tsc). Never
 * served: the scripts are plain JavaScript with JSDoc, and this file only says what each of
 * them puts on the shared `window.vig` namespace (every member is optional, because each page
 * loads only the bundles it needs; see the @requires lines in each script's header). */

type VideoState =
  | "recording" | "copying" | "review" | "broken" | "queued" | "uploading" | "verifying"
  | "sent" | "problem" | "rejected";

/** One video on the phone, as vig-store.js keeps it in IndexedDB ("recordings"). */
interface LocalRecording {
  id: string;
  createdAt: number;
  updatedAt?: number;
  recordedAt?: number;
  mimeType: string;
  size: number;
  chunkSizes: number[];
  state: VideoState;
  source?: "camera" | "file";
  clientId?: string;
  uploadUrl: string | null;
  error: string | null;
  sha256: string | null;
  sent: number;
  sentAt?: number;
  durationMs?: number;
  interrupted?: boolean;
  blocked?: boolean;
  mismatch?: boolean;
  serverSha256?: string | null;
  serverStatus?: string;
}

/** What the server's status API says about one upload (docs/upload-contract.md). */
interface ServerRecording {
  client_id?: string;
  status?: string;
  safe?: boolean;
  sha256?: string;
  reason?: string;
  message?: string;
  recorded_at?: string;
  created_at?: string;
  duration_s?: number;
}

interface RecordingWords {
  text: string;
  icon: string;
  tone: string;
  done?: boolean;
  progress?: number;
}

/** An upload failure as the uploader reasons about it: HTTP status (0: no answer) and code. */
interface UploadFailure {
  status: number;
  code: string;
  message: string;
}

/** What a failed upload does to its recording (upload-rules.js afterFailure). */
interface FailureStep {
  patch?: Partial<LocalRecording>;
  sync?: boolean;
  wipe?: boolean;
  notice?: string;
  verifyFirst?: boolean;
}

interface RecordingStore {
  create(record: Partial<LocalRecording> & { id: string }): Promise<LocalRecording>;
  get(id: string): Promise<LocalRecording | undefined>;
  all(): Promise<LocalRecording[]>;
  update(
    id: string,
    patch: Partial<LocalRecording> | ((current: LocalRecording) => Partial<LocalRecording> | null),
  ): Promise<LocalRecording | null>;
  appendChunk(id: string, seq: number, buffer: ArrayBuffer): Promise<LocalRecording>;
  readChunks(id: string, from?: number, to?: number): Promise<ArrayBuffer[]>;
  forEachChunk(id: string, count: number, fn: (buffer: ArrayBuffer) => unknown): Promise<void>;
  blob(id: string): Promise<Blob>;
  truncate(id: string, length: number): Promise<LocalRecording | null>;
  deleteChunks(id: string): Promise<void>;
  remove(id: string): Promise<void>;
  wipe(): Promise<{ recordings: number; chunks: number }>;
}

interface Vig {
  // common.js
  /** The English words in the page's language (common.js; from the same catalogues as the pages). */
  t?(english: string, vars?: Record<string, string | number>): string;
  csrfToken?(): string;
  fetchJSON?(url: string, options?: RequestInit): Promise<{ ok: boolean; status: number; body: any }>;
  reportError?(kind: string, error?: any): null;
  forgetWaitingReports?(): void;
  // vig-store.js
  config?: {
    uploadEndpoint: string; statusUrl: string; chunkBytes: number; maxBytes: number;
    recordUrl: string; pendingUrl: string; swUrl: string; tusUrl: string;
  };
  StorageFullError?: new () => Error;
  store?: RecordingStore;
  newId?(): string;
  readBlob?(blob: Blob): Promise<ArrayBuffer>;
  storageSpace?: {
    free(): Promise<number | null>;
    persisted(): Promise<boolean>;
    persist(): Promise<boolean>;
  };
  wakeLock?: { hold(reason: string): Promise<boolean>; release(reason: string): void; readonly held: boolean };
  fmt?: {
    mb(bytes: number): string;
    clock(seconds: number): string;
    duration(ms: number): string;
    when(ts: number): string;
  };
  localRecordings?: { wipeAll(): Promise<{ recordings: number; chunks: number; caches: number }> };
  // sha256.js
  hashRecording?(rec: LocalRecording): Promise<string>;
  // container.js
  makeWhole?(id: string): Promise<LocalRecording | null | undefined>;
  // upload-rules.js (see its JSDoc for each rule)
  uploadRules?: {
    SENDABLE: Set<string>;
    WORDS: Record<string, string>;
    describe(err: unknown): UploadFailure;
    shouldRetry(failure: UploadFailure, online: boolean): boolean;
    recovery(failure: UploadFailure): "restart" | "refresh-csrf" | null;
    verdict(status: ServerRecording, rec: { sha256: string | null }): "rejected" | "incomplete" | "sent" | "mismatch";
    afterFailure(failure: UploadFailure, now: { localRead: boolean; online: boolean; state: string }): FailureStep;
    isOrphaned(rec: LocalRecording, facts: { held: Set<string> | null; now: number; busy: boolean }): boolean;
    tidy(rec: LocalRecording, facts: { orphaned: boolean; now: number }): "cut-back" | "broken" | "forget" | null;
    afterCutBack(whole: LocalRecording): Partial<LocalRecording>;
    shouldStart(rec: LocalRecording, why: string): boolean;
    percent(rec: { size: number; sent?: number }, live: number | undefined, shown: number): number;
  };
  // uploader.js
  uploader?: {
    start(id: string): Promise<unknown>;
    startAll(why: string): Promise<void>;
    sendAgain(id: string): Promise<unknown>;
    stop(id: string): void;
    stopAll(): void;
    isRunning(id: string): boolean;
    percent(rec: LocalRecording): number;
  };
  // sw-register.js
  sw?: { activateWaiting(): void };
  // pending.js
  describeRecording?(rec: LocalRecording | null | undefined, server: ServerRecording | null): RecordingWords;
  // recorder.js
  recorderBusy?(id?: string): boolean;
  recorder?: { open(): Promise<unknown>; close(): void; filming(): boolean };
  liveSync?: LiveSync;
}

/** A live review's state, as the server sends it (vigparent/live/service.py `state`). */
interface LiveState {
  seq: number;
  clip: number | null;
  time: number;
  playing: boolean;
  at: number;
  note: string;
  strength: string;
  film: string;
  film_answer: string;
}

/** live-sync.js */
interface LiveSync {
  serverClock(): { sample(serverMs: number, localMs: number): void; now(localMs: number): number };
  expectedTime(state: LiveState, serverNowMs: number, length: number): number;
  correction(current: number, expected: number, playing: boolean): { seek: number | null; rate: number };
  listen(url: string, onMessage: (data: any) => void, onSignal: (up: boolean) => void): { close(): void; reopen(): void };
  clock(seconds: number): string;
  post(url: string, body: object): Promise<{ ok: boolean; status: number; body: any }>;
  SEEK_OVER: number;
}

interface Window {
  vig: Vig;
  idb?: typeof import("idb");
  tus?: typeof import("tus-js-client");
}

interface Navigator {
  /** iOS Safari: true when opened from the home screen. */
  standalone?: boolean;
  /** Chromium only (User-Agent Client Hints). */
  userAgentData?: unknown;
}

interface ServiceWorkerRegistration {
  /** Background Sync (Chromium only). */
  readonly sync?: { register(tag: string): Promise<void> };
}

/** The events the phone scripts send each other on `window`. */
interface WindowEventMap {
  "vig:recordings": CustomEvent<{ id: string | null }>;
  "vig:upload-progress": CustomEvent<{ id: string }>;
  "vig:notice": CustomEvent<{ message: string }>;
}
