/* hw.c — the `ideal` hardware description every hwconfig starts from. */
#include "eqs/hw.h"

#include <string.h>

void eqs_hw_config_default(eqs_hw_config *hw)
{
    memset(hw, 0, sizeof *hw);
    strcpy(hw->name, "ideal");
    strcpy(hw->description, "exactly programmable devices, no converters, no noise, float "
                            "neurons: the analog tile reproduces the float reference");
    eqs_device_config_default(&hw->device, EQS_DEV_IDEAL);
    hw->array.max_rows = 1 << 20; /* one physical tile per matrix */
    hw->array.max_cols = 1 << 20;
    hw->array.w_max = 1.0;
    hw->array.v_read_v = 0.2;
    hw->array.t_read_s = 10e-9;
    hw->array.t_pulse_s = 10e-9;
    hw->array.v_pulse_v = 1.0;
    hw->periphery.dac_range = 1.0;
    hw->periphery.adc_range_mode = EQS_ADC_CALIBRATED;
    hw->periphery.adc_range = 1.0;
    hw->update.mode = EQS_PULSE_STOCHASTIC_ROUNDING;
    hw->update.max_pulses = 1 << 20;
    hw->update.bl = 31;
    hw->neuron.dynamics = EQS_NEURON_DISCRETE;
    hw->neuron.tau_s = 1e-9;
    hw->neuron.dt_s = 1e-9;
    hw->neuron.t_step_s = 1e-9;
}
