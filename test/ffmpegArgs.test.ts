import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { buildDecodeArgs, buildProbeArgs, parseShowinfoColour, parseShowinfoLine } from '../src/ingest/ffmpegArgs.ts';
import { buildEncodeArgs, colourTagArgs, defaultPixelFormat } from '../src/stream/encodeArgs.ts';
import { buildEncoderListArgs, listVideoEncoders, parseVideoEncoders } from '../src/stream/encoderList.ts';
import { localInput } from '../src/util/localInput.ts';
import { colourFromNames } from '../src/util/yuv.ts';

describe('local inputs reach ffmpeg as local files', () => {
  it('as file: + absolute path, whatever the name looks like', () => {
    expect(localInput('/v/in.mp4')).toBe('file:/v/in.mp4');
    expect(localInput('pipe:0')).toBe(`file:${path.resolve('pipe:0')}`);
    expect(localInput('concat:a.mp4|b.mp4')).toBe(`file:${path.resolve('concat:a.mp4|b.mp4')}`);
    expect(localInput('http://host/x.mp4')).toBe(`file:${process.cwd()}/http:/host/x.mp4`);
    expect(localInput('-i.mp4')).toBe(`file:${path.resolve('-i.mp4')}`);
  });

  it('probe: every stream and the format as JSON', () => {
    expect(buildProbeArgs('/v/in.mp4')).toEqual(['-v', 'error', '-count_packets', '-print_format', 'json', '-show_streams', '-show_format', 'file:/v/in.mp4']);
    expect(buildProbeArgs('-x.mp4').at(-1)).toBe(`file:${path.resolve('-x.mp4')}`);
  });
});

describe('decode argument builder', () => {
  it('decodes the first video stream to yuv420p on stdout with showinfo lines per frame', () => {
    expect(buildDecodeArgs({ input: '/v/in.mp4' })).toEqual([
      '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info',
      '-i', 'file:/v/in.mp4',
      '-map', '0:v:0', '-vf', 'showinfo=checksum=0', '-fps_mode', 'passthrough',
      '-f', 'rawvideo', '-pix_fmt', 'yuv420p', 'pipe:1',
    ]);
  });

  it('resamples variable-rate input before showinfo and windows with -ss/-t', () => {
    const args = buildDecodeArgs({ input: '/v/v.mkv', constantFrameRate: '1350/61', start: 2.5, duration: 3 });
    expect(args.slice(args.indexOf('-ss'), args.indexOf('-ss') + 4)).toEqual(['-ss', '2.5', '-i', 'file:/v/v.mkv']);
    expect(args[args.indexOf('-t') + 1]).toBe('3');
    expect(args[args.indexOf('-vf') + 1]).toBe('showinfo=checksum=0,fps=1350/61,showinfo=checksum=0');
  });

  it('parses showinfo colour lines into range and space names', () => {
    expect(parseShowinfoColour('[Parsed_showinfo_0 @ 0x55] color_range:tv color_space:bt709 color_primaries:bt709 color_trc:bt709')).toEqual({ range: 'tv', space: 'bt709' });
    expect(parseShowinfoColour('[Parsed_showinfo_0 @ 0x55] color_range:unknown color_space:unknown color_primaries:unknown color_trc:unknown')).toEqual({ range: 'unknown', space: 'unknown' });
    expect(parseShowinfoColour('[Parsed_showinfo_0 @ 0x55] n:   0 pts:      0 pts_time:0')).toBeUndefined();
    expect(colourFromNames('bt709', 'tv')).toEqual({ matrix: 'bt709', range: 'limited' });
    expect(colourFromNames('unknown', 'unknown')).toEqual({ matrix: 'bt601', range: 'limited' });
    expect(colourFromNames('bt2020nc', 'pc')).toEqual({ matrix: 'bt2020', range: 'full' });
  });

  it('parses showinfo lines and ignores others', () => {
    expect(parseShowinfoLine('[Parsed_showinfo_0 @ 0x55] n:  12 pts: 6144 pts_time:0.4     duration:512')).toEqual({ n: 12, ptsTime: 0.4 });
    expect(parseShowinfoLine('[Parsed_showinfo_1 @ 0x1] n:0 pts:-3 pts_time:-0.1 ')).toEqual({ n: 0, ptsTime: -0.1 });
    expect(parseShowinfoLine('[Parsed_showinfo_0 @ 0x55] config in time_base: 1/15360, frame_rate: 30/1')).toBeUndefined();
    expect(parseShowinfoLine('frame=   59 fps=0.0 q=-0.0')).toBeUndefined();
  });
});

describe('encode argument builder', () => {
  it('tags the raw input with the source colour when it is not BT.601 limited range', () => {
    expect(colourTagArgs(undefined)).toEqual([]);
    expect(colourTagArgs({ matrix: 'bt601', range: 'limited' })).toEqual([]);
    expect(colourTagArgs({ matrix: 'bt709', range: 'limited' })).toEqual(['-colorspace', 'bt709']);
    expect(colourTagArgs({ matrix: 'bt2020', range: 'full' })).toEqual(['-colorspace', 'bt2020nc', '-color_range', 'pc']);
    const args = buildEncodeArgs({ width: 64, height: 48, frameRate: '25', output: 'o.mp4', colour: { matrix: 'bt709', range: 'limited' } });
    expect(args.slice(args.indexOf('-r'), args.indexOf('pipe:0') + 1)).toEqual(['-r', '25', '-colorspace', 'bt709', '-i', 'pipe:0']);
  });

  it('reads yuv420p on stdin, copies AAC audio from the source, writes mp4 with x264 defaults', () => {
    expect(buildEncodeArgs({ width: 640, height: 360, frameRate: '30000/1001', audioFrom: { path: '/v/src.mp4', codec: 'aac' }, output: '/o/.x.partial' })).toEqual([
      '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
      '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', '640x360', '-r', '30000/1001', '-i', 'pipe:0',
      '-i', 'file:/v/src.mp4', '-map', '0:v:0', '-map', '1:a:0', '-c:a', 'copy',
      '-c:v', 'libx264', '-preset', 'medium', '-crf', '18',
      '-pix_fmt', 'yuv420p', '-movflags', '+faststart',
      '-f', 'mp4', '-y', 'file:/o/.x.partial',
    ]);
  });

  it('re-encodes audio the container cannot hold, and has no audio map without audio', () => {
    const withPcm = buildEncodeArgs({ width: 64, height: 64, frameRate: '25', audioFrom: { path: 's.avi', codec: 'pcm_s16le' }, output: 'o' });
    expect(withPcm.slice(withPcm.indexOf('-c:a'), withPcm.indexOf('-c:a') + 4)).toEqual(['-c:a', 'aac', '-b:a', '160k']);
    const silent = buildEncodeArgs({ width: 64, height: 64, frameRate: '25', output: 'o' });
    expect(silent).not.toContain('-c:a');
    expect(silent.filter((a) => a === '-map')).toHaveLength(1);
  });

  it('cuts the copied audio to a decode window', () => {
    const args = buildEncodeArgs({ width: 64, height: 64, frameRate: '25', audioFrom: { path: '/v/s.mp4', codec: 'aac', start: 10, duration: 5 }, output: 'o' });
    expect(args.slice(args.indexOf('-ss'), args.indexOf('-ss') + 6)).toEqual(['-ss', '10', '-t', '5', '-i', 'file:/v/s.mp4']);
  });

  it('keeps odd sizes exact with 4:4:4, and deterministic mode pins threads and bitexact flags', () => {
    expect(defaultPixelFormat(641, 360)).toBe('yuv444p');
    expect(defaultPixelFormat(640, 360)).toBe('yuv420p');
    const args = buildEncodeArgs({ width: 641, height: 361, frameRate: '25', output: 'o', deterministic: true, crf: 20, preset: 'veryfast' });
    expect(args).toEqual(expect.arrayContaining(['-threads', '1', '-fflags', '+bitexact', '-flags:v', '+bitexact']));
    expect(args[args.indexOf('-pix_fmt', args.indexOf('-c:v')) + 1]).toBe('yuv444p');
    expect(args[args.indexOf('-crf') + 1]).toBe('20');
  });

  it('uses the requested container and codec', () => {
    const args = buildEncodeArgs({ width: 64, height: 64, frameRate: '25', output: 'o.webm', format: 'webm', codec: 'libvpx-vp9' });
    expect(args).toEqual(expect.arrayContaining(['-c:v', 'libvpx-vp9', '-b:v', '0', '-f', 'webm']));
    expect(args).not.toContain('-movflags');
  });
});

describe('video encoder list (checks --codec before a run)', () => {
  it('parses the video rows of `ffmpeg -encoders` after the legend, and only those', () => {
    const text = [
      'Encoders:',
      ' V..... = Video',
      ' A..... = Audio',
      ' ------',
      ' V....D libx264              libx264 H.264 / AVC (codec h264)',
      ' VFS..D mpeg4                MPEG-4 part 2',
      ' A....D aac                  AAC (Advanced Audio Coding)',
      ' S..... ass                  ASS (Advanced SubStation Alpha) subtitle',
    ].join('\n');
    expect([...parseVideoEncoders(text)].sort()).toEqual(['libx264', 'mpeg4']);
    expect(buildEncoderListArgs()).toEqual(['-hide_banner', '-nostdin', '-encoders']);
  });

  it("the installed ffmpeg's list has the default encoder and not a made-up one", async () => {
    const list = await listVideoEncoders('ffmpeg');
    expect(list?.has('libx264')).toBe(true);
    expect(list?.has('aac')).toBe(false);
    expect(list?.has('nonsense')).toBe(false);
  });
});
