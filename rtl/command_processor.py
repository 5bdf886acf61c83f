"""Command processor of the accelerator top: executes the ISA's opcodes on the scratchpads and the array."""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hwgen.emulation.float_format import FloatFormat
from hwgen.emulation.int_format import IntFormat
from hwgen.emulation.isa import ACCUMULATE, CYCLES_SIZE, SEQ_BITS, STATUS_SIZE, DeviceInfo, Opcode, Space, Status
from hwgen.rtl.arith import widen
from hwgen.rtl.fp_add import FpAdder
from hwgen.rtl.scratchpad import Scratchpad

__all__ = ["HEADER_BYTES", "CommandProcessor", "response_head_layout"]

#: Payload bytes the processor reads before deciding: the longest fixed header (``RUN``).
HEADER_BYTES = 10
#: Payload offset of ``WRITE``'s data (opcode, space, addr u16, count u16).
WRITE_DATA_OFFSET = 6


def response_head_layout() -> data.StructLayout:
    """Payload of the response head stream: ``seq``, ``status``, ``len`` of one response frame."""
    return data.StructLayout({"seq": SEQ_BITS, "status": 8, "len": 16})


class CommandProcessor(wiring.Component):
    """Executes command payloads from the host link's frame buffer; golden model ``AcceleratorModel``.

    For each waiting frame it reads the first ``HEADER_BYTES`` payload bytes, decides
    the status exactly as :class:`hwgen.emulation.accelerator_model.AcceleratorModel`
    does (``BAD_OPCODE``, ``BAD_ARGS``, and the exactly-once rule of
    :mod:`hwgen.emulation.isa`: a ``WRITE``/``RUN`` with the ``seq`` of the recorded
    ``WRITE``/``RUN`` just before it is answered from the record; any other frame
    clears the record unless it is a ``WRITE``/``RUN`` itself, which records its own
    answer), executes the command, sends the response head and payload to the link,
    then pulses ``cmd_done``.

    ``RUN`` streams ``rows`` W words into the array's stationary port, then ``m`` A
    words (``last`` on the final one) into its streamed port, and writes every output
    row to O in the cycle it arrives (adding the old O word, read ahead, when
    accumulating: wrapping for integers, :class:`~hwgen.rtl.fp_add.FpAdder` RNE for
    floats). The cycle counter counts from the first scratchpad read to the last O
    write, both included: ``hwgen.emulation.accelerator_timing.run_cycles`` exactly.

    Built small for an iCE40 UP5K next to a 4x4 array: ``WRITE`` fills words a byte
    lane at a time, and response bytes are selected from the scratchpad word, the
    counters or the ``PING`` constant as they go out, so no word is copied into
    registers.

    Parameters
    ----------
    info : DeviceInfo
        Array shape, scratchpad depths and ``max_payload`` (``PING`` returns it encoded).
    value_format, acc_format : IntFormat or FloatFormat
        Formats of the W/A values and of the O accumulators; widths multiples of 8
        matching ``info.value_bytes``/``info.acc_bytes``.

    Members
    -------
    cmd_valid, cmd_seq, cmd_len, cmd_rd_addr, cmd_rd_data, cmd_done
        Command side of ``HostLink`` (flipped).
    o_rsp_head : Out(stream.Signature(response_head_layout()))
    o_rsp_data : Out(stream.Signature(8))
    good_frames, dropped_frames : In(32)
        The link's counters, reported by ``STATUS``.
    o_stationary : Out(stream.Signature(cols * value bits))
        One W word per beat, to the array's held port.
    o_streamed : Out(stream.Signature(StructLayout({"data": rows * value bits, "last": 1})))
        One A word per beat, to the array's streamed port.
    i_result : In(stream.Signature(StructLayout({"data": cols * acc bits, "last": 1})))
        Output rows of the array; always ready during a ``RUN``.

    Latency
    -------
    ``RUN``: ``run_cycles(info, m) = rows + m + (rows + cols + 1) + 1`` cycles for an
    array of latency ``rows + cols + 1``. Responses: one byte per cycle after the head;
    ``READ`` spends one more cycle per word fetching it.
    """

    def __init__(self, info: DeviceInfo, value_format, acc_format):
        for name, fmt, nbytes in (("value", value_format, info.value_bytes), ("acc", acc_format, info.acc_bytes)):
            if not isinstance(fmt, (IntFormat, FloatFormat)) or fmt.width != 8 * nbytes:
                raise ValueError(f"{name} format {fmt!r} is not allowed; allowed: a format {8 * nbytes} bits wide")
        if info.max_payload < 16:
            raise ValueError(f"max_payload={info.max_payload} is not allowed; allowed: >= 16")
        self.info, self.value_format, self.acc_format = info, value_format, acc_format
        self.bits = {space: 8 * info.word_bytes(space) for space in Space}
        super().__init__(
            {
                "cmd_valid": In(1),
                "cmd_seq": In(SEQ_BITS),
                "cmd_len": In(16),
                "cmd_rd_addr": Out(range(info.max_payload)),
                "cmd_rd_data": In(8),
                "cmd_done": Out(1),
                "o_rsp_head": Out(stream.Signature(response_head_layout())),
                "o_rsp_data": Out(stream.Signature(8)),
                "good_frames": In(32),
                "dropped_frames": In(32),
                "o_stationary": Out(stream.Signature(self.bits[Space.W])),
                "o_streamed": Out(stream.Signature(data.StructLayout({"data": self.bits[Space.A], "last": 1}))),
                "i_result": In(stream.Signature(data.StructLayout({"data": self.bits[Space.O], "last": 1}))),
            }
        )

    def elaborate(self, platform):
        m = Module()
        pads = {space: Scratchpad(self.bits[space], self.info.depth(space)) for space in Space}
        for space, pad in pads.items():
            m.submodules[f"pad_{space.name.lower()}"] = pad
        s = _State(self.info)
        self._decode(m, s)
        with m.FSM(name="cmd"):
            with m.State("IDLE"):
                with m.If(self.cmd_valid):
                    m.d.sync += [s.seq.eq(self.cmd_seq), s.length.eq(self.cmd_len), s.k.eq(0)]
                    m.next = "HEADER"
            with m.State("HEADER"):
                self._header(m, s)
            with m.State("DECIDE"):
                self._decide(m, s)
            with m.State("WRITE_DATA"):
                self._write_data(m, s, pads)
            with m.State("RUN"):
                self._run(m, s, pads)
            self._respond(m, s, pads)
            with m.State("DONE"):
                m.d.comb += self.cmd_done.eq(1)
                m.next = "IDLE"
        return m

    # -- header and decision ------------------------------------------------------------------------------------
    def _header(self, m: Module, s: _State) -> None:
        """Read payload bytes 0..9 (address k in cycle k, data in k+1) into ``hdr``, byte 0 lowest."""
        m.d.comb += self.cmd_rd_addr.eq(s.k)
        m.d.sync += s.k.eq(s.k + 1)
        with m.If(s.k != 0):
            m.d.sync += s.hdr.eq(Cat(s.hdr[8:], self.cmd_rd_data))
        with m.If(s.k == HEADER_BYTES):
            m.next = "DECIDE"

    def _decode(self, m: Module, s: _State) -> None:
        """Combinational argument checks of every opcode from ``hdr`` and ``length``."""
        info, hdr = self.info, s.hdr
        space, addr, count = hdr[8:16], hdr[16:32], hdr[32:48]
        depth = Array(Const(info.depth(sp), 17) for sp in Space)[space[:2]]
        # Constant products per space, then a mux: no run-time multiplier.
        nbytes = Array(count * info.word_bytes(sp) for sp in Space)[space[:2]]
        m.d.comb += [s.space_ok.eq((space < 3) & (addr + count <= depth)), s.nbytes.eq(nbytes)]
        # A WRITE's data bytes, when its length covers the header.
        m.d.comb += s.data_len.eq((s.length - WRITE_DATA_OFFSET)[:16])
        w, a, o, mm = hdr[8:24], hdr[24:40], hdr[40:56], hdr[56:72]
        m.d.comb += s.run_ok.eq(
            (s.length == HEADER_BYTES)
            & (mm != 0)
            & (w + info.rows <= info.w_depth)
            & (a + mm <= info.a_depth)
            & (o + mm <= info.o_depth)
        )

    def _decide(self, m: Module, s: _State) -> None:
        opcode, length = s.hdr[:8], s.length
        m.d.sync += [s.byte_idx.eq(0), s.k.eq(0), s.mode.eq(_Mode.CYCLES)]
        m.d.sync += [s.space.eq(s.hdr[8:10]), s.ptr.eq(s.hdr[16:32])]
        replay = (length != 0) & ((opcode == Opcode.WRITE) | (opcode == Opcode.RUN)) & s.last_valid
        replay &= s.last_seq == s.seq
        _status(m, s, Status.BAD_ARGS)  # the default; every accepted case overrides it
        m.next = "RESP_HEAD"
        with m.If(~replay):
            # Any other good frame ends the record; a WRITE/RUN sets it again below (a RUN when it ends).
            m.d.sync += s.last_valid.eq(0)
        with m.If((length == 0) | (opcode == 0) | (opcode > max(Opcode))):
            _status(m, s, Status.BAD_OPCODE)
        with m.Elif(replay):
            m.d.sync += [s.status.eq(Mux(s.last_ok, int(Status.OK), int(Status.BAD_ARGS)))]
            m.d.sync += s.rsp_len.eq(Mux(s.last_ok & s.last_was_run, CYCLES_SIZE, 0))
        with m.Elif(opcode == Opcode.PING):
            with m.If(length == 1):
                _status(m, s, Status.OK, DeviceInfo.SIZE)
                m.d.sync += s.mode.eq(_Mode.PING)
        with m.Elif(opcode == Opcode.STATUS):
            with m.If(length == 1):
                _status(m, s, Status.OK, STATUS_SIZE)
                m.d.sync += s.mode.eq(_Mode.COUNTERS)
        with m.Elif(opcode == Opcode.READ):
            with m.If((length == WRITE_DATA_OFFSET) & s.space_ok):
                _status(m, s, Status.OK)
                m.d.sync += [s.rsp_len.eq(s.nbytes), s.mode.eq(_Mode.READ)]
        with m.Elif(opcode == Opcode.WRITE):
            # count = 0 is BAD_ARGS by the ISA (hwgen.emulation.isa.Opcode), yet still remembered below.
            same = widen(m, s.nbytes, 33, "write_bytes") == widen(m, s.data_len, 33, "write_data_len")
            ok = Signal()
            m.d.comb += ok.eq((length >= WRITE_DATA_OFFSET) & s.space_ok & same & (s.hdr[32:48] != 0))
            self._remember(m, s, ok, 0)
            with m.If(ok):
                _status(m, s, Status.OK)
                m.next = "WRITE_DATA"
        with m.Elif(s.run_ok):  # RUN
            m.d.sync += [s.w_left.eq(self.info.rows), s.run_cnt.eq(0)]
            m.d.sync += [s.w_valid.eq(0), s.a_valid.eq(0), s.o_ptr.eq(s.hdr[40:56])]
            m.next = "RUN"
        with m.Else():
            self._remember(m, s, 0, 1)

    def _remember(self, m: Module, s: _State, ok, was_run) -> None:
        """Record this ``WRITE``/``RUN`` and whether it was accepted, for the exactly-once rule.

        A RUN's cycles stay in ``last_cycles``; the record is valid until the next good
        frame that is not its retry.
        """
        m.d.sync += [s.last_valid.eq(1), s.last_seq.eq(s.seq), s.last_ok.eq(ok), s.last_was_run.eq(was_run)]

    # -- WRITE ----------------------------------------------------------------------------------------------------
    def _write_data(self, m: Module, s: _State, pads) -> None:
        """Copy the ``data_len`` bytes after the header into the words, one byte lane per cycle."""
        issuing = s.k != s.data_len
        m.d.comb += self.cmd_rd_addr.eq(s.k + WRITE_DATA_OFFSET)
        with m.If(issuing):
            m.d.sync += s.k.eq(s.k + 1)
        m.d.sync += s.pending.eq(issuing)
        with m.If(s.pending):
            word_done = s.byte_idx == s.word_bytes - 1
            m.d.sync += s.byte_idx.eq(Mux(word_done, 0, s.byte_idx + 1))
            with m.If(word_done):
                m.d.sync += s.ptr.eq(s.ptr + 1)
            for space, pad in pads.items():
                lanes = len(pad.wr_en)
                m.d.comb += [pad.wr_addr.eq(s.ptr), pad.wr_data.eq(Cat(*[self.cmd_rd_data] * lanes))]
                with m.If(s.space == space):
                    m.d.comb += pad.wr_en.eq(Const(1, lanes) << s.byte_idx)
        with m.If(~issuing & ~s.pending):
            m.next = "RESP_HEAD"

    # -- RUN ------------------------------------------------------------------------------------------------------
    def _run(self, m: Module, s: _State, pads) -> None:
        hdr = s.hdr  # w, a and m (fields 1, 2, 4) advance in place as the W/A pointers and A count
        m.d.sync += s.run_cnt.eq(s.run_cnt + 1)
        self._feed(m, pads[Space.W], self.o_stationary, hdr[8:24], s.w_left, s.w_valid)
        self._feed(m, pads[Space.A], self.o_streamed, hdr[24:40], hdr[56:72], s.a_valid, s.a_last)
        m.d.comb += [self.o_streamed.payload.last.eq(s.a_last), self.o_streamed.payload.data.eq(pads[Space.A].rd_data)]
        m.d.comb += self.o_stationary.payload.eq(pads[Space.W].rd_data)
        # O[o_ptr] is read ahead every cycle, so the old word is there when its row arrives and is written.
        pad_o, res = pads[Space.O], self.i_result
        m.d.comb += [res.ready.eq(1), pad_o.rd_addr.eq(s.o_ptr + res.valid), pad_o.rd_en.eq(1)]
        accumulate = Signal()
        m.d.comb += accumulate.eq((hdr[72:80] & ACCUMULATE) != 0)
        total = self._accumulate(m, pad_o.rd_data, res.payload.data, accumulate)
        with m.If(res.valid):
            m.d.comb += [pad_o.wr_en.eq(-1), pad_o.wr_addr.eq(s.o_ptr), pad_o.wr_data.eq(total)]
            m.d.sync += s.o_ptr.eq(s.o_ptr + 1)
            with m.If(res.payload.last):  # the row of the A word that carried ``last``
                cycles = Signal(32)
                m.d.comb += cycles.eq(s.run_cnt + 1)
                self._remember(m, s, 1, 1)
                _status(m, s, Status.OK, CYCLES_SIZE)
                m.d.sync += [s.last_cycles.eq(cycles), s.total_cycles.eq(s.total_cycles + cycles)]
                m.d.sync += s.runs.eq(s.runs + 1)
                m.next = "RESP_HEAD"

    @staticmethod
    def _feed(m: Module, pad: Scratchpad, port, ptr, left, valid, last=None) -> None:
        """Stream ``left`` words from ``pad[ptr:]`` into ``port``; the read enable holds a stalled beat."""
        advance = ~valid | port.ready
        m.d.comb += [pad.rd_addr.eq(ptr), pad.rd_en.eq(advance), port.valid.eq(valid)]
        with m.If(advance):
            m.d.sync += valid.eq(left != 0)
            with m.If(left != 0):
                m.d.sync += [ptr.eq(ptr + 1), left.eq(left - 1)]
                if last is not None:
                    m.d.sync += last.eq(left == 1)

    def _accumulate(self, m: Module, old, new, accumulate):
        """The O word to write: ``old + new`` per lane if accumulating (wrapping integers, RNE floats), else ``new``."""
        width, cols = self.acc_format.width, self.info.cols
        total = Signal(width * cols)
        for c in range(cols):
            lane = slice(c * width, (c + 1) * width)
            if isinstance(self.acc_format, IntFormat):
                # Adding zero instead of muxing afterwards folds the choice into the adder's LUTs.
                m.d.comb += total[lane].eq((old[lane] & accumulate.replicate(width)) + new[lane])
            else:
                add = m.submodules[f"acc_add_{c}"] = FpAdder(self.acc_format)
                m.d.comb += [add.a.eq(old[lane]), add.b.eq(new[lane])]
                m.d.comb += total[lane].eq(Mux(accumulate, add.result, new[lane]))
        return total

    # -- responses ------------------------------------------------------------------------------------------------
    def _respond(self, m: Module, s: _State, pads) -> None:
        """States RESP_HEAD, FETCH, SEND: the head beat, then ``rsp_len`` payload bytes.

        Each byte is picked as it goes out: from the scratchpad word a ``READ`` fetched
        (one FETCH cycle per word), the counters (``STATUS``), ``last_cycles`` (``RUN``)
        or the ``PING`` constant.
        """
        with m.State("RESP_HEAD"):
            head = self.o_rsp_head
            m.d.comb += [head.valid.eq(1), head.payload.seq.eq(s.seq), head.payload.status.eq(s.status)]
            m.d.comb += head.payload.len.eq(s.rsp_len)
            with m.If(head.ready):
                with m.If(s.rsp_len == 0):
                    m.next = "DONE"
                with m.Elif(s.mode == _Mode.READ):
                    m.next = "FETCH"
                with m.Else():
                    m.next = "SEND"
        with m.State("FETCH"):
            for pad in pads.values():
                m.d.comb += [pad.rd_addr.eq(s.ptr), pad.rd_en.eq(1)]
            m.d.sync += s.ptr.eq(s.ptr + 1)
            m.next = "SEND"
        with m.State("SEND"):
            self._send(m, s, pads)

    def _send(self, m: Module, s: _State, pads) -> None:
        out = self.o_rsp_data
        m.d.comb += [out.valid.eq(1), out.payload.eq(self._payload_byte(m, s, pads))]
        with m.If(out.ready):
            m.d.sync += [s.byte_idx.eq(s.byte_idx + 1), s.rsp_len.eq(s.rsp_len - 1)]
            with m.If(s.rsp_len == 1):
                m.next = "DONE"
            with m.Elif((s.mode == _Mode.READ) & (s.byte_idx == s.word_bytes - 1)):
                m.d.sync += s.byte_idx.eq(0)
                m.next = "FETCH"

    def _payload_byte(self, m: Module, s: _State, pads) -> Signal:
        """The response byte ``byte_idx`` of the current mode."""
        byte = Signal(8)
        words = {sp: pads[sp].rd_data for sp in Space}
        with m.Switch(s.mode):
            with m.Case(_Mode.PING):
                m.d.comb += byte.eq(Array(Const(b, 8) for b in self.info.encode())[s.byte_idx])
            with m.Case(_Mode.COUNTERS):
                counters = Cat(s.total_cycles, s.runs, self.good_frames, self.dropped_frames)
                m.d.comb += byte.eq(_bytes(counters)[s.byte_idx[:4]])
            with m.Case(_Mode.CYCLES):
                m.d.comb += byte.eq(_bytes(s.last_cycles)[s.byte_idx[:2]])
            with m.Case(_Mode.READ):
                for space, word in words.items():
                    with m.If(s.space == space):
                        m.d.comb += byte.eq(_bytes(word)[s.byte_idx])
        return byte


def _bytes(value) -> Array:
    """``value``'s bytes, to index with a signal (a byte mux, not a shifter)."""
    return Array(value[i : i + 8] for i in range(0, len(value), 8))


class _Mode:
    """What a response's payload bytes come from."""

    CYCLES, PING, READ, COUNTERS = 0, 1, 2, 3


def _status(m: Module, s: _State, status, length=0) -> None:
    """Set the response status and payload length (in DECIDE or at the end of a RUN)."""
    m.d.sync += [s.status.eq(status), s.rsp_len.eq(length)]


class _State:
    """The processor's registers, grouped so the elaborate helpers can share them."""

    def __init__(self, info: DeviceInfo):
        lane_bits = max(max(info.word_bytes(sp) for sp in Space), info.SIZE).bit_length()
        self.seq, self.length = Signal(SEQ_BITS), Signal(16)
        self.hdr = Signal(8 * HEADER_BYTES)  # payload bytes 0..9; during a RUN also the W/A pointers and A count
        self.k = Signal(16)  # frame buffer address counter (header, WRITE data)
        # space starts at 3 (no scratchpad): its first load is a change, which event-driven simulators see.
        self.space, self.ptr = Signal(2, init=3), Signal(16)
        self.byte_idx, self.pending = Signal(lane_bits), Signal()
        self.space_ok, self.run_ok, self.nbytes, self.data_len = Signal(), Signal(), Signal(32), Signal(16)
        self.status, self.rsp_len, self.mode = Signal(range(max(Status) + 1)), Signal(16), Signal(2)
        # exactly-once record: valid while the last good frame was a WRITE/RUN (its seq, accepted, which one)
        self.last_valid, self.last_seq, self.last_ok, self.last_was_run = Signal(), Signal(SEQ_BITS), Signal(), Signal()
        self.last_cycles, self.total_cycles, self.runs, self.run_cnt = Signal(32), Signal(32), Signal(32), Signal(32)
        # RUN datapath
        self.w_left, self.w_valid = Signal(range(info.rows + 1)), Signal()
        self.a_valid, self.a_last = Signal(), Signal()
        self.o_ptr = Signal(16)
        word_bytes = [info.word_bytes(sp) for sp in Space]
        self.word_bytes = Array(Const(n, unsigned(lane_bits + 1)) for n in word_bytes)[self.space]
