//! `%pt`: `%ptR` (struct rtc_time) and `%ptT` (time64_t).

use super::{at, le_u32, le_u64, number, Spec, Writer, DEC02_SPEC, DEC04_SPEC};

impl Writer<'_> {
    /// %ptR (struct rtc_time) and %ptT (time64_t). The kernel dereferences a
    /// time64_t without checking it; here a bad pointer prints like the
    /// checked extensions do.
    pub(super) fn time_and_date(&mut self, ptr: u64, spec: Spec, ext: &[u8]) {
        let tm = match at(ext, 1) {
            b'R' => {
                let Some(raw) = self.checked_read(ptr, 24, spec) else {
                    return;
                };
                RtcTime {
                    sec: le_u32(&raw, 0) as i32,
                    min: le_u32(&raw, 4) as i32,
                    hour: le_u32(&raw, 8) as i32,
                    mday: le_u32(&raw, 12) as i32,
                    mon: le_u32(&raw, 16) as i32,
                    year: le_u32(&raw, 20) as i32,
                }
            }
            b'T' => {
                let Some(raw) = self.checked_read(ptr, 8, spec) else {
                    return;
                };
                time64_to_rtc(le_u64(&raw, 0) as i64)
            }
            _ => return self.error(b"(%pt?)", spec),
        };
        rtc_str(&mut self.out, &tm, ext);
    }
}

struct RtcTime {
    sec: i32,
    min: i32,
    hour: i32,
    mday: i32,
    mon: i32,
    year: i32,
}

/// time64_to_tm() at UTC: proleptic Gregorian calendar, floor division for
/// times before the epoch; the year is stored in an `int`.
fn time64_to_rtc(t: i64) -> RtcTime {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Days-to-civil conversion over 400-year eras starting on 0000-03-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let mday = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    RtcTime {
        sec: (secs % 60) as i32,
        min: (secs / 60 % 60) as i32,
        hour: (secs / 3600) as i32,
        mday: mday as i32,
        mon: (month - 1) as i32,
        year: (year - 1900) as i32,
    }
}

/// rtc_str(): 'd' date only, 't' time only, then any of 'r' (raw fields,
/// no 1900/1 offsets) and 's' (space instead of 'T'). Width is ignored.
fn rtc_str(out: &mut Vec<u8>, tm: &RtcTime, ext: &[u8]) {
    let (mut have_date, mut have_time) = (true, true);
    let mut index = 2;
    match at(ext, 2) {
        b'd' => {
            have_time = false;
            index += 1;
        }
        b't' => {
            have_date = false;
            index += 1;
        }
        _ => {}
    }
    let (mut raw, mut iso) = (false, true);
    loop {
        match at(ext, index) {
            b'r' => raw = true,
            b's' => iso = false,
            _ => break,
        }
        index += 1;
    }
    // Fields are ints handed to number() as unsigned long long.
    let num = |out: &mut Vec<u8>, v: i32, spec| number(out, i64::from(v) as u64, spec);
    if have_date {
        num(
            out,
            tm.year.wrapping_add(if raw { 0 } else { 1900 }),
            DEC04_SPEC,
        );
        out.push(b'-');
        num(
            out,
            tm.mon.wrapping_add(if raw { 0 } else { 1 }),
            DEC02_SPEC,
        );
        out.push(b'-');
        num(out, tm.mday, DEC02_SPEC);
    }
    if have_date && have_time {
        out.push(if iso { b'T' } else { b' ' });
    }
    if have_time {
        num(out, tm.hour, DEC02_SPEC);
        out.push(b':');
        num(out, tm.min, DEC02_SPEC);
        out.push(b':');
        num(out, tm.sec, DEC02_SPEC);
    }
}
