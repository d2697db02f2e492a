/** `status`: time left per phase, and the text a DBA reads (no `-` placeholders, commas between parts). */
import { describe, expect, it } from 'vitest';
import { renderStatus, timeLeft, type StatusRow } from '../../src/cli/status.js';

const row = (extra: Partial<StatusRow>): StatusRow => ({
  connection: 'prod', table: 'public.orders', status: 'running', live: true, phase: 'copy',
  rows_copied: null, rows_estimate: 4999476, copy_bytes: null, copy_bytes_expected: null, indexes_built: null, indexes_total: null,
  backlog: null, backlog_capped: false, change_rate: null, replay_rate: null, predicted_swap_ms: null,
  started_at: '2026-12-01 10:00:00+00', ended_at: null, elapsed_s: 0, phase_elapsed_s: 0, remaining_s: null, remaining_basis: null,
  size_before: 1, size_after: null, runner: 'db-admin:4242', runner_pid: 4242, runner_host: 'db-admin',
  kept_chunked_copy: false, throttle: null, partition_of: null, partition_number: null, partitions_in_run: null, last_error: null,
  ...extra,
});

describe('status: time left', () => {
  const base = { rows_copied: null, rows_estimate: null, backlog: null, change_rate: null, replay_rate: null };
  it('copy: from the rows copied, or before any are reported, from the copy\'s size', () => {
    expect(timeLeft({ ...base, phase: 'copy', rows_copied: 250, rows_estimate: 1000 }, 10)).toEqual({ seconds: 30, basis: 'rows copied' });
    expect(timeLeft({ ...base, phase: 'copy', rows_estimate: 1000, copy_bytes: 100, copy_bytes_expected: 400 }, 20)).toEqual({ seconds: 60, basis: 'copy size' });
    expect(timeLeft({ ...base, phase: 'copy', rows_estimate: 1000, copy_bytes: 0, copy_bytes_expected: 400 }, 20)).toBeNull();
  });

  it('index: from the indexes built so far, not from the rows copied', () => {
    expect(timeLeft({ ...base, phase: 'index', rows_copied: 1000, rows_estimate: 1000, indexes_built: 1, indexes_total: 5 }, 12)).toEqual({ seconds: 48, basis: 'indexes built' });
    expect(timeLeft({ ...base, phase: 'index', rows_copied: 1000, rows_estimate: 1000, indexes_built: 0, indexes_total: 5 }, 12)).toBeNull();
  });

  it('replay: the backlog at the net drain rate; an empty backlog is caught up', () => {
    expect(timeLeft({ ...base, phase: 'replay', backlog: 900, change_rate: 100, replay_rate: 400 }, 0)).toEqual({ seconds: 3, basis: 'backlog at the net drain rate' });
    expect(timeLeft({ ...base, phase: 'replay', backlog: 0, change_rate: null, replay_rate: null }, 0)).toEqual({ seconds: 0, basis: 'backlog' });
    expect(timeLeft({ ...base, phase: 'replay', backlog: 900, change_rate: 500, replay_rate: 400 }, 0)).toBeNull();
  });
});

describe('status: text', () => {
  it('says what is known at the start of a copy, with commas, and no placeholder', () => {
    expect(renderStatus([row({})])).toBe('prod public.orders: running, phase copy, ~4999476 rows to copy, none written yet, elapsed 0 s [db-admin:4242]');
    expect(renderStatus([row({ rows_copied: 1250000, backlog: 2616, elapsed_s: 40, remaining_s: 120 })])).toBe(
      'prod public.orders: running, phase copy, copied 1250000 of ~4999476 rows (25%), backlog 2616, elapsed 40 s, about 120 s left [db-admin:4242]',
    );
    expect(renderStatus([row({ copy_bytes: 512 * 1024 ** 2, copy_bytes_expected: 2 * 1024 ** 3, elapsed_s: 40, remaining_s: 120 })])).toBe(
      'prod public.orders: running, phase copy, copy 512.0 MB of ~2.0 GB written (25%), ~4999476 rows to copy, elapsed 40 s, about 120 s left [db-admin:4242]',
    );
  });

  it('shows the index builds and the backlog in the index phase', () => {
    expect(renderStatus([row({ phase: 'index', rows_copied: 4999476, indexes_built: 2, indexes_total: 5, backlog: 31, elapsed_s: 90, remaining_s: 30 })])).toBe(
      'prod public.orders: running, phase index, indexes built 2 of 5, backlog 31, elapsed 90 s, about 30 s left [db-admin:4242]',
    );
  });

  it('says a rate is not measured yet instead of a placeholder', () => {
    expect(renderStatus([row({ phase: 'replay', backlog: 2616 })])).toBe(
      'prod public.orders: running, phase replay, backlog 2616, changes not measured yet, replay not measured yet, elapsed 0 s [db-admin:4242]',
    );
  });

  it('names the process replaying a prepared copy, and when a prepared copy was last brought up to date', () => {
    expect(renderStatus([row({ status: 'prepared', phase: 'replay', backlog: 2616, change_rate: 40, replay_rate: 4000, runner: 'replayer:77', runner_pid: 77, runner_host: 'replayer' })])).toBe(
      'prod public.orders: prepared, being brought up to date by pid 77 on replayer, phase replay, backlog 2616, changes 40 rows/s, replay 4000 rows/s, elapsed 0 s [replayer:77]',
    );
    expect(renderStatus([row({ status: 'prepared', live: false, phase: 'prepared', backlog: 12, phase_elapsed_s: 8, elapsed_s: 600 })])).toBe(
      'prod public.orders: prepared (capture logs every change: replay_data applies them, repack_tables swaps the copy, abort_repack removes it), ' +
        'phase prepared, backlog 12, changes not measured yet, replay not measured yet, elapsed 600 s, last replayed 8 s ago [db-admin:4242]',
    );
  });

  it('says what abort_repack did to a prepared copy, without a death', () => {
    const text = renderStatus([row({
      status: 'aborted', live: false, phase: 'aborted', elapsed_s: 55,
      last_error: 'its kept copy was removed by abort_repack (or drop_schema); the table is as it was',
    })]);
    expect(text).toBe('prod public.orders: aborted: its kept copy was removed by abort_repack (or drop_schema); the table is as it was, elapsed 55 s [db-admin:4242]');
    expect(text).not.toMatch(/died/);
  });
});

describe('status: partitions', () => {
  it('says which leaf of which partitioned table is in progress and how many follow it', () => {
    const text = renderStatus([row({ table: 'sales.events_2026_03', partition_of: 'sales.events', partition_number: 3, partitions_in_run: 10 })]);
    expect(text).toMatch(/^prod sales\.events_2026_03: running, phase copy, partition 3 of 10 of sales\.events \(7 after it in this run\), /);
    const done = renderStatus([row({ status: 'done', live: false, phase: 'done', partition_of: 'sales.events', partition_number: 10, partitions_in_run: 10 })]);
    expect(done).toContain('partition 10 of 10 of sales.events, elapsed');
  });
});
