// Real `nvidia-smi` tables captured on real machines (test/fixtures/nvidia-smi/SOURCES.md says where each
// came from), one per GPU model, cut into the parts a simulated node reassembles for its own devices.
// Keyed `MODEL-VRAMGB` as GPUPOOL_SIMULATED_GPUS names them. Data only; unchanged but for one thing: the
// RTX 4090 capture's desktop processes (Xorg, gnome-shell) are not a job's, so its process list says none.

export interface SmiCapture {
  /** the fixture it was cut from */
  source: string;
  /** the model name as nvidia-smi prints it (for -L and --query-gpu too) */
  name: string;
  header: string[];
  /** each captured GPU's three rows, by index; devices past the last get GPU 0's with their index and bus id */
  blocks: string[][];
  separator: string;
  footer: string[];
}

export const SMI_CAPTURES: Record<string, SmiCapture> = {
  'H100-80': {
    source: "h100-sxm-1x-table.txt",
    name: "NVIDIA H100 80GB HBM3",
    header: [
      "+-----------------------------------------------------------------------------------------+",
      "| NVIDIA-SMI 590.48.01              Driver Version: 590.48.01      CUDA Version: 13.1     |",
      "+-----------------------------------------+------------------------+----------------------+",
      "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |",
      "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |",
      "|                                         |                        |               MIG M. |",
      "|=========================================+========================+======================|",
    ],
    blocks: [
      [
        "|   0  NVIDIA H100 80GB HBM3          On  |   00000000:00:09.0 Off |                    0 |",
        "| N/A   41C    P0             69W /  700W |       0MiB /  81559MiB |      0%      Default |",
        "|                                         |                        |             Disabled |",
      ],
    ],
    separator: "+-----------------------------------------+------------------------+----------------------+",
    footer: [
      "",
      "+-----------------------------------------------------------------------------------------+",
      "| Processes:                                                                              |",
      "|  GPU   GI   CI              PID   Type   Process name                        GPU Memory |",
      "|        ID   ID                                                               Usage      |",
      "|=========================================================================================|",
      "|  No running processes found                                                             |",
      "+-----------------------------------------------------------------------------------------+",
    ],
  },
  'A100-80': {
    source: "a100-sxm4-80gb-4x-table.txt",
    name: "NVIDIA A100-SXM4-80GB",
    header: [
      "+-----------------------------------------------------------------------------------------+",
      "| NVIDIA-SMI 555.42.02              Driver Version: 555.42.02      CUDA Version: 12.5     |",
      "|-----------------------------------------+------------------------+----------------------+",
      "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |",
      "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |",
      "|                                         |                        |               MIG M. |",
      "|=========================================+========================+======================|",
    ],
    blocks: [
      [
        "|   0  NVIDIA A100-SXM4-80GB          On  |   00000000:68:00.0 Off |                    0 |",
        "| N/A   25C    P0             59W /  500W |       1MiB /  81920MiB |      0%      Default |",
        "|                                         |                        |             Disabled |",
      ],
      [
        "|   1  NVIDIA A100-SXM4-80GB          On  |   00000000:9E:00.0 Off |                    0 |",
        "| N/A   22C    P0             60W /  500W |       1MiB /  81920MiB |      0%      Default |",
        "|                                         |                        |             Disabled |",
      ],
      [
        "|   2  NVIDIA A100-SXM4-80GB          On  |   00000000:C2:00.0 Off |                    0 |",
        "| N/A   23C    P0             58W /  500W |       1MiB /  81920MiB |      0%      Default |",
        "|                                         |                        |             Disabled |",
      ],
      [
        "|   3  NVIDIA A100-SXM4-80GB          On  |   00000000:D4:00.0 Off |                    0 |",
        "| N/A   23C    P0             58W /  500W |       1MiB /  81920MiB |      0%      Default |",
        "|                                         |                        |             Disabled |",
      ],
    ],
    separator: "+-----------------------------------------+------------------------+----------------------+",
    footer: [
      "                                                                                         ",
      "+-----------------------------------------------------------------------------------------+",
      "| Processes:                                                                              |",
      "|  GPU   GI   CI        PID   Type   Process name                              GPU Memory |",
      "|        ID   ID                                                               Usage      |",
      "|=========================================================================================|",
      "|  No running processes found                                                             |",
      "+-----------------------------------------------------------------------------------------+",
    ],
  },
  'L40S-48': {
    source: "l40s-1x-table.txt",
    name: "NVIDIA L40S",
    header: [
      "+-----------------------------------------------------------------------------------------+",
      "| NVIDIA-SMI 595.80                 Driver Version: 595.80         CUDA Version: 13.2     |",
      "+-----------------------------------------+------------------------+----------------------+",
      "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |",
      "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |",
      "|                                         |                        |               MIG M. |",
      "|=========================================+========================+======================|",
    ],
    blocks: [
      [
        "|   0  NVIDIA L40S                    Off |   00000000:01:00.0 Off |                    0 |",
        "| N/A   64C    P0            242W /  350W |       0MiB /  46068MiB |    100%      Default |",
        "|                                         |                        |                  N/A |",
      ],
    ],
    separator: "+-----------------------------------------+------------------------+----------------------+",
    footer: [
      "",
      "+-----------------------------------------------------------------------------------------+",
      "| Processes:                                                                              |",
      "|  GPU   GI   CI              PID   Type   Process name                        GPU Memory |",
      "|        ID   ID                                                               Usage      |",
      "|=========================================================================================|",
      "|  No running processes found                                                             |",
      "+-----------------------------------------------------------------------------------------+",
    ],
  },
  'L4-24': {
    source: "l4-1x-table.txt",
    name: "NVIDIA L4",
    header: [
      "+-----------------------------------------------------------------------------------------+",
      "| NVIDIA-SMI 550.90.07              Driver Version: 550.90.07      CUDA Version: 12.4     |",
      "|-----------------------------------------+------------------------+----------------------+",
      "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |",
      "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |",
      "|                                         |                        |               MIG M. |",
      "|=========================================+========================+======================|",
    ],
    blocks: [
      [
        "|   0  NVIDIA L4                      On  |   00000000:01:00.0 Off |                    0 |",
        "| N/A   33C    P8             16W /   72W |       1MiB /  23034MiB |      0%      Default |",
        "|                                         |                        |                  N/A |",
      ],
    ],
    separator: "+-----------------------------------------+------------------------+----------------------+",
    footer: [
      "                                                                                         ",
      "+-----------------------------------------------------------------------------------------+",
      "| Processes:                                                                              |",
      "|  GPU   GI   CI        PID   Type   Process name                              GPU Memory |",
      "|        ID   ID                                                               Usage      |",
      "|=========================================================================================|",
      "|  No running processes found                                                             |",
      "+-----------------------------------------------------------------------------------------+",
    ],
  },
  'RTX4090-24': {
    source: "rtx4090-1x-table.txt",
    name: "NVIDIA GeForce RTX 4090",
    header: [
      "+-----------------------------------------------------------------------------------------+",
      "| NVIDIA-SMI 580.65.06              Driver Version: 580.65.06      CUDA Version: 13.0     |",
      "+-----------------------------------------+------------------------+----------------------+",
      "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |",
      "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |",
      "|                                         |                        |               MIG M. |",
      "|=========================================+========================+======================|",
    ],
    blocks: [
      [
        "|   0  NVIDIA GeForce RTX 4090        On  |   00000000:01:00.0 Off |                  Off |",
        "|  0%   44C    P8             36W /  450W |     232MiB /  24564MiB |      0%      Default |",
        "|                                         |                        |                  N/A |",
      ],
    ],
    separator: "+-----------------------------------------+------------------------+----------------------+",
    footer: [
      "",
      "+-----------------------------------------------------------------------------------------+",
      "| Processes:                                                                              |",
      "|  GPU   GI   CI              PID   Type   Process name                        GPU Memory |",
      "|        ID   ID                                                               Usage      |",
      "|=========================================================================================|",
      "|  No running processes found                                                             |",
      "+-----------------------------------------------------------------------------------------+",
    ],
  },
  'RTX3090-24': {
    source: "rtx3090-2x-table.txt",
    name: "NVIDIA GeForce RTX 3090",
    header: [
      "+-----------------------------------------------------------------------------------------+",
      "| NVIDIA-SMI 560.35.03              Driver Version: 560.35.03      CUDA Version: 12.6     |",
      "|-----------------------------------------+------------------------+----------------------+",
      "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |",
      "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |",
      "|                                         |                        |               MIG M. |",
      "|=========================================+========================+======================|",
    ],
    blocks: [
      [
        "|   0  NVIDIA GeForce RTX 3090        On  |   00000000:41:00.0 Off |                  N/A |",
        "| 30%   30C    P8             30W /  350W |       2MiB /  24576MiB |      0%      Default |",
        "|                                         |                        |                  N/A |",
      ],
      [
        "|   1  NVIDIA GeForce RTX 3090        On  |   00000000:81:00.0 Off |                  N/A |",
        "| 30%   29C    P8             36W /  350W |       2MiB /  24576MiB |      0%      Default |",
        "|                                         |                        |                  N/A |",
      ],
    ],
    separator: "+-----------------------------------------+------------------------+----------------------+",
    footer: [
      "                                                                                         ",
      "+-----------------------------------------------------------------------------------------+",
      "| Processes:                                                                              |",
      "|  GPU   GI   CI        PID   Type   Process name                              GPU Memory |",
      "|        ID   ID                                                               Usage      |",
      "|=========================================================================================|",
      "|  No running processes found                                                             |",
      "+-----------------------------------------------------------------------------------------+",
    ],
  },
  'T4-16': {
    source: "t4-colab-table.txt",
    name: "Tesla T4",
    header: [
      "+-----------------------------------------------------------------------------+",
      "| NVIDIA-SMI 460.32.03    Driver Version: 460.32.03    CUDA Version: 11.2     |",
      "|-------------------------------+----------------------+----------------------+",
      "| GPU  Name        Persistence-M| Bus-Id        Disp.A | Volatile Uncorr. ECC |",
      "| Fan  Temp  Perf  Pwr:Usage/Cap|         Memory-Usage | GPU-Util  Compute M. |",
      "|                               |                      |               MIG M. |",
      "|===============================+======================+======================|",
    ],
    blocks: [
      [
        "|   0  Tesla T4            Off  | 00000000:00:04.0 Off |                    0 |",
        "| N/A   36C    P8     9W /  70W |      0MiB / 15109MiB |      0%      Default |",
        "|                               |                      |                  N/A |",
      ],
    ],
    separator: "+-------------------------------+----------------------+----------------------+",
    footer: [
      "                                                                               ",
      "+-----------------------------------------------------------------------------+",
      "| Processes:                                                                  |",
      "|  GPU   GI   CI        PID   Type   Process name                  GPU Memory |",
      "|        ID   ID                                                   Usage      |",
      "|=============================================================================|",
      "|  No running processes found                                                 |",
      "+-----------------------------------------------------------------------------+",
    ],
  },
};
