// ep_update_unit.v — the EP / VF / KP-VF update unit (Laborieux et al. 2021, eqs. 38-44).
//
// Operands per lane: A, C post-synaptic (the neuron the weight drives, or the readout error),
// B, D pre-synaptic. The modes (cfg_mode) and what to feed them:
//   0 CONTRAST      A*B - C*D      symmetric EP  (s+i s+j - s-i s-j), scale eta/(2 beta);
//                                  one-sided EP  (s^b_i s^b_j - s*_i s*_j), scale eta/beta;
//                                  KP-VF (eqs. 43-45, dense layers): the same contrast for the
//                                  forward and the backward weights
//   1 VF_POST       (A - C)*B      VF forward weights:  (s+i - s-i) s*_j       (eq. 42, w^f)
//   2 VF_PRE        A*(B - D)      VF backward weights: s*_i (s+j - s-j)       (eq. 42, w^b)
//   3 BIAS          (A - C)*1      the bias rule: state differences alone
//   4 READOUT       -(A*B + C*D)   readout, eqs. 38/39: A = e+ = y^+ - y, B = s+ (symmetric,
//                                  scale eta/2) or A = e, B = s^beta and C = D = 0 (one-sided)
//   5 READOUT_BIAS  -(A + C)*1     the readout's bias
// Other codes act as CONTRAST. KP-VF's weight decay -eta*lambda*theta needs the weight, which
// this unit never sees: the controller applies it (docs/rtl.md).
// Datapath, formats and rounding: upd_core.v; defaults: rtl/upd_formats.def.
`default_nettype none
`include "upd_formats.vh"

module ep_update_unit #(
    parameter integer W        = `UPD_EP_STATE_W,
    parameter integer F        = `UPD_EP_STATE_F,
    parameter integer SCALE_W  = `UPD_SCALE_W,
    parameter integer SHIFT_W  = `UPD_SHIFT_W,
    parameter integer ACC_LOG2 = `UPD_ACC_LOG2,
    parameter integer OUT_W    = `UPD_OUT_W,
    parameter integer P_MAX    = `UPD_P_MAX,
    parameter integer LANES    = `UPD_LANES
) (
    input  wire                   clk,
    input  wire                   rst_n,
    input  wire [           31:0] cfg_seed,
    input  wire                   cfg_seed_load,
    input  wire [            2:0] cfg_mode,
    input  wire                   cfg_post_signed,
    input  wire                   cfg_pre_signed,
    input  wire [    SCALE_W-1:0] cfg_scale,
    input  wire [    SHIFT_W-1:0] cfg_shift,
    input  wire                   cfg_stoch,
    input  wire                   cfg_pulse,
    input  wire                   in_valid,
    output wire                   in_ready,
    input  wire                   in_last,
    input  wire [    LANES*W-1:0] in_a,
    input  wire [    LANES*W-1:0] in_b,
    input  wire [    LANES*W-1:0] in_c,
    input  wire [    LANES*W-1:0] in_d,
    output wire                   out_valid,
    input  wire                   out_ready,
    output wire [LANES*OUT_W-1:0] out_data
);
    // {c_is_a, c_zero, d_is_b, one, neg1, neg2}
    reg [5:0] ctl;
    always @(*) begin
        case (cfg_mode)
            3'd1:    ctl = 6'b001001;  // VF_POST      A*B - C*B
            3'd2:    ctl = 6'b100001;  // VF_PRE       A*B - A*D
            3'd3:    ctl = 6'b000101;  // BIAS         A - C
            3'd4:    ctl = 6'b000011;  // READOUT      -A*B - C*D
            3'd5:    ctl = 6'b000111;  // READOUT_BIAS -A - C
            default: ctl = 6'b000001;  // CONTRAST     A*B - C*D
        endcase
    end

    upd_core #(
        .W(W), .F(F), .SCALE_W(SCALE_W), .SHIFT_W(SHIFT_W), .ACC_LOG2(ACC_LOG2),
        .OUT_W(OUT_W), .P_MAX(P_MAX), .LANES(LANES)
    ) u_core (
        .clk(clk), .rst_n(rst_n),
        .cfg_seed(cfg_seed), .cfg_seed_load(cfg_seed_load),
        .cfg_post_signed(cfg_post_signed), .cfg_pre_signed(cfg_pre_signed),
        .cfg_scale(cfg_scale), .cfg_shift(cfg_shift), .cfg_stoch(cfg_stoch),
        .cfg_pulse(cfg_pulse),
        .ctl_c_is_a(ctl[5]), .ctl_c_zero(ctl[4]), .ctl_d_is_b(ctl[3]), .ctl_one(ctl[2]),
        .ctl_neg1(ctl[1]), .ctl_neg2(ctl[0]),
        .in_valid(in_valid), .in_ready(in_ready), .in_last(in_last),
        .in_a(in_a), .in_b(in_b), .in_c(in_c), .in_d(in_d),
        .out_valid(out_valid), .out_ready(out_ready), .out_data(out_data)
    );
endmodule

`default_nettype wire
