// upd_core.v — the datapath shared by the EP and PEPITA update units.
//
// Per lane and per beat it forms the contrast  P = (-1)^neg1 * A*B + (-1)^neg2 * C*D  from four
// fixed-point operands (the operand muxes, chosen by the wrapper's mode decoder, make B, C or D
// copies of other operands, the constant 1.0 or zero), sums P over the beats of one update
// (mini-batch accumulation, closed by `in_last`), then scales once by m * 2^-shift, rounds
// (nearest with ties away from zero, or stochastic from a per-lane xorshift32 generator),
// and saturates to +-P_MAX (pulse counts) or +-(2^(OUT_W-1)-1) (fixed-point dW).
// It is not a unit by itself: ep_update_unit.v and pepita_update_unit.v give the modes meaning.
// The bit-exact C model is sim/learn/updunit.c; docs/rtl.md has the formats and the pipeline.
//
// Pipeline (one beat per cycle, latency 4, global stall: every stage moves when the output
// register is empty or being read):
//   S1 operand select + sign extension + two multipliers   -> s1_p1, s1_p2
//   S2 contrast + accumulate (acc cleared by a `last` beat) -> s2_sum (valid on last beats only)
//   S3 multiply by the scale mantissa m                     -> s3_y
//   S4 round (offset + arithmetic shift) + saturate         -> out_data
`default_nettype none

module upd_core #(
    parameter integer W        = 10,  // operand bits
    parameter integer F        = 8,   // operand fractional bits
    parameter integer SCALE_W  = 16,  // scale mantissa bits (unsigned)
    parameter integer SHIFT_W  = 6,   // shift input bits
    parameter integer ACC_LOG2 = 10,  // accumulation headroom (log2 of samples)
    parameter integer OUT_W    = 16,  // output bits (signed)
    parameter integer P_MAX    = 255, // pulse-mode saturation
    parameter integer LANES    = 4
) (
    input  wire                     clk,
    input  wire                     rst_n,          // synchronous, active low
    // configuration: quasi-static, change only while no beat is in flight
    input  wire [             31:0] cfg_seed,       // loaded at reset and on cfg_seed_load
    input  wire                     cfg_seed_load,
    input  wire                     cfg_post_signed,// A and C are two's complement (else unsigned)
    input  wire                     cfg_pre_signed, // B and D are two's complement (else unsigned)
    input  wire [      SCALE_W-1:0] cfg_scale,      // mantissa m
    input  wire [      SHIFT_W-1:0] cfg_shift,      // right shift, clamped to SHIFT_MAX
    input  wire                     cfg_stoch,      // 1: stochastic rounding, 0: nearest
    input  wire                     cfg_pulse,      // 1: saturate to +-P_MAX
    // decoded mode (from the wrapper)
    input  wire                     ctl_c_is_a,     // C := A
    input  wire                     ctl_c_zero,     // C := 0
    input  wire                     ctl_d_is_b,     // D := B
    input  wire                     ctl_one,        // B := D := 1.0
    input  wire                     ctl_neg1,       // subtract A*B instead of adding it
    input  wire                     ctl_neg2,       // subtract C*D instead of adding it
    // input stream: one beat = LANES operand quadruples of the same sample
    input  wire                     in_valid,
    output wire                     in_ready,
    input  wire                     in_last,        // closes the accumulation of this update
    input  wire [      LANES*W-1:0] in_a,
    input  wire [      LANES*W-1:0] in_b,
    input  wire [      LANES*W-1:0] in_c,
    input  wire [      LANES*W-1:0] in_d,
    // output stream: one beat per `last` input beat
    output reg                      out_valid,
    input  wire                     out_ready,
    output reg  [  LANES*OUT_W-1:0] out_data
);
    localparam integer EW = W + 1;                  // sign-extended operand
    localparam integer PW = 2 * EW;                 // product
    localparam integer CW = PW + 1;                 // contrast
    localparam integer AW = CW + ACC_LOG2;          // accumulator
    localparam integer YW = AW + SCALE_W + 1;       // scaled value
    localparam integer ZW = YW + 1;                 // scaled value + rounding offset
    localparam integer SHIFT_MAX = YW - 1;
    localparam integer SHIFT_CLAMP = (SHIFT_MAX < (1 << SHIFT_W)) ? SHIFT_MAX : (1 << SHIFT_W) - 1;
    localparam [SHIFT_W-1:0] SHIFT_CLAMP_V = SHIFT_CLAMP[SHIFT_W-1:0];
    localparam [EW-1:0] ONE = {{(EW - F - 1) {1'b0}}, 1'b1, {F{1'b0}}};
    localparam [ZW-1:0] LIM_DW = {{(ZW - OUT_W + 1) {1'b0}}, {(OUT_W - 1) {1'b1}}};
    localparam [ZW-1:0] ZW_ONE = {{(ZW - 1) {1'b0}}, 1'b1};

    // Every stage moves together; a stall holds the whole pipe (in_ready follows out_ready).
    wire adv = !out_valid || out_ready;
    assign in_ready = adv;

    reg s1_valid, s1_last, s2_valid, s3_valid;

    // A shift above SHIFT_MAX could only give 0 or -1; it is clamped (the C model does the same).
    wire [31:0] shift32 = {{(32 - SHIFT_W) {1'b0}}, cfg_shift};
    wire [SHIFT_W-1:0] shift_c = (shift32 > SHIFT_CLAMP) ? SHIFT_CLAMP_V : cfg_shift;
    wire [6:0] shift7 = {{(7 - SHIFT_W) {1'b0}}, shift_c};
    wire [ZW-1:0] half = (ZW_ONE << shift_c) >> 1;  // 2^(shift-1), 0 when shift = 0
    wire [31:0] p_max32 = P_MAX;
    wire [ZW-1:0] lim_pulse = {{(ZW - 32) {1'b0}}, p_max32};

    always @(posedge clk) begin
        if (!rst_n) begin
            s1_valid  <= 1'b0;
            s1_last   <= 1'b0;
            s2_valid  <= 1'b0;
            s3_valid  <= 1'b0;
            out_valid <= 1'b0;
        end else if (adv) begin
            s1_valid  <= in_valid;
            s1_last   <= in_last;
            s2_valid  <= s1_valid && s1_last;
            s3_valid  <= s2_valid;
            out_valid <= s3_valid;
        end
    end

    genvar l;
    generate
        for (l = 0; l < LANES; l = l + 1) begin : g_lane
            // ---- S1: operand select, sign extension, products
            wire [W-1:0] ra = in_a[l*W+:W];
            wire [W-1:0] rb = in_b[l*W+:W];
            wire [W-1:0] rc = in_c[l*W+:W];
            wire [W-1:0] rd = in_d[l*W+:W];
            wire [EW-1:0] xa = {cfg_post_signed & ra[W-1], ra};
            wire [EW-1:0] xb0 = {cfg_pre_signed & rb[W-1], rb};
            wire [EW-1:0] xc0 = {cfg_post_signed & rc[W-1], rc};
            wire [EW-1:0] xd0 = {cfg_pre_signed & rd[W-1], rd};
            wire [EW-1:0] xb = ctl_one ? ONE : xb0;
            wire [EW-1:0] xc = ctl_c_zero ? {EW{1'b0}} : (ctl_c_is_a ? xa : xc0);
            wire [EW-1:0] xd = ctl_one ? ONE : (ctl_d_is_b ? xb0 : xd0);
            wire signed [PW-1:0] p1 = $signed({{EW{xa[EW-1]}}, xa}) * $signed({{EW{xb[EW-1]}}, xb});
            wire signed [PW-1:0] p2 = $signed({{EW{xc[EW-1]}}, xc}) * $signed({{EW{xd[EW-1]}}, xd});
            reg signed [PW-1:0] s1_p1, s1_p2;

            // ---- S2: contrast and accumulation (|t1 + t2| < 2^(2W+1): no overflow in CW bits)
            wire signed [CW-1:0] e1 = {s1_p1[PW-1], s1_p1};
            wire signed [CW-1:0] e2 = {s1_p2[PW-1], s1_p2};
            wire signed [CW-1:0] t = (ctl_neg1 ? -e1 : e1) + (ctl_neg2 ? -e2 : e2);
            reg signed [AW-1:0] acc, s2_sum;
            wire signed [AW-1:0] sum = acc + {{ACC_LOG2{t[CW-1]}}, t};

            // ---- S3: scale by the unsigned mantissa (|y| < 2^(YW-2): exact)
            wire signed [YW-1:0] y = $signed({{(SCALE_W + 1) {s2_sum[AW-1]}}, s2_sum}) *
                                     $signed({{AW{1'b0}}, cfg_scale});
            reg signed [YW-1:0] s3_y;

            // ---- S4: round and saturate
            reg [31:0] lfsr;  // xorshift32 (13, 17, 5): a linear generator of period 2^32 - 1
            wire [31:0] lfsr_x1 = lfsr ^ (lfsr << 13);
            wire [31:0] lfsr_x2 = lfsr_x1 ^ (lfsr_x1 >> 17);
            wire [31:0] lfsr_next = lfsr_x2 ^ (lfsr_x2 << 5);
            // lanes start from different states; zero (the generator's fixed point) becomes 1
            localparam [63:0] STRIDE = 64'h9E3779B9 * l;
            wire [31:0] lane_seed0 = cfg_seed + STRIDE[31:0];
            wire [31:0] lane_seed = (lane_seed0 == 32'd0) ? 32'd1 : lane_seed0;
            // stochastic offset floor(lfsr * 2^(shift-32)): uniform on [0, 2^shift)
            /* verilator lint_off UNUSEDSIGNAL */  // bits above SHIFT_MAX are always zero
            wire [63:0] rnd_wide = {lfsr, 32'd0} >> (7'd64 - shift7);
            /* verilator lint_on UNUSEDSIGNAL */
            // nearest: + 2^(shift-1) - [y < 0], then floor: ties go away from zero
            wire [ZW-1:0] near = half - {{(ZW - 1) {1'b0}}, s3_y[YW-1] & (shift_c != 0)};
            wire [ZW-1:0] offset = cfg_stoch ? rnd_wide[ZW-1:0] : near;
            wire signed [ZW-1:0] z = $signed({s3_y[YW-1], s3_y}) + $signed(offset);
            wire signed [ZW-1:0] q = z >>> shift_c;
            wire signed [ZW-1:0] lim = $signed(cfg_pulse ? lim_pulse : LIM_DW);
            /* verilator lint_off UNUSEDSIGNAL */  // |sat| <= 2^(OUT_W-1) - 1: upper bits = sign
            wire signed [ZW-1:0] sat = (q > lim) ? lim : ((q < -lim) ? -lim : q);
            /* verilator lint_on UNUSEDSIGNAL */

            always @(posedge clk) begin
                if (adv) begin
                    s1_p1 <= p1;
                    s1_p2 <= p2;
                    s3_y  <= y;
                    if (s3_valid) out_data[l*OUT_W+:OUT_W] <= sat[OUT_W-1:0];
                end
            end

            always @(posedge clk) begin
                if (!rst_n) begin
                    acc <= {AW{1'b0}};
                end else if (adv && s1_valid) begin
                    acc <= s1_last ? {AW{1'b0}} : sum;
                end
            end

            always @(posedge clk) begin
                if (adv && s1_valid && s1_last) s2_sum <= sum;
            end

            // One generator step per update leaving the unit, in both rounding modes, so the
            // sequence depends only on the number of updates since the seed was loaded.
            always @(posedge clk) begin
                if (!rst_n || cfg_seed_load) begin
                    lfsr <= lane_seed;
                end else if (adv && s3_valid) begin
                    lfsr <= lfsr_next;
                end
            end
        end
    endgenerate
endmodule

`default_nettype wire
