// Entry of the browser bundle of mediasoup-client (built by src/apps/live/webBundle.ts into the cache, not committed).
export { Device, version } from 'mediasoup-client';
