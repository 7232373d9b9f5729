// pepita_update_unit.v — the PEPITA update unit (Dellaferrera & Kreiman 2022).
//
// Operands per lane as in ep_update_unit.v (A, C post-synaptic; B, D pre-synaptic). Modes:
//   0 HIDDEN       -(A - C)*B     hidden layer: dW = -(h_i - h'_i) x'_j  (x' = h'_{l-1}, signed)
//   1 OUTPUT       -A*B           output layer: dW = -e'_i h'_j
//   2 HIDDEN_BIAS  -(A - C)*1     hidden bias:  -(h_i - h'_i)
//   3 OUTPUT_BIAS  -A*1           output bias:  -e'_i
// Other codes act as HIDDEN. D is unused. Datapath, formats and rounding: upd_core.v.
`default_nettype none
`include "upd_formats.vh"

module pepita_update_unit #(
    parameter integer W        = `UPD_PEP_STATE_W,
    parameter integer F        = `UPD_PEP_STATE_F,
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
    /* verilator lint_off UNUSEDSIGNAL */  // D exists so both units have the same interface
    input  wire [    LANES*W-1:0] in_d,
    /* verilator lint_on UNUSEDSIGNAL */
    output wire                   out_valid,
    input  wire                   out_ready,
    output wire [LANES*OUT_W-1:0] out_data
);
    // {c_is_a, c_zero, d_is_b, one, neg1, neg2}
    reg [5:0] ctl;
    always @(*) begin
        case (cfg_mode)
            3'd1:    ctl = 6'b010010;  // OUTPUT       -A*B
            3'd2:    ctl = 6'b000110;  // HIDDEN_BIAS  -A + C
            3'd3:    ctl = 6'b010110;  // OUTPUT_BIAS  -A
            default: ctl = 6'b001010;  // HIDDEN       -A*B + C*B
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
        .in_a(in_a), .in_b(in_b), .in_c(in_c), .in_d({LANES * W{1'b0}}),
        .out_valid(out_valid), .out_ready(out_ready), .out_data(out_data)
    );
endmodule

`default_nettype wire
