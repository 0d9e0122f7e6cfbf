// The hub's answers (amounts: strings of shannons).
export interface HubInfo {
  hub_address: string;
  hub_lock_args: string;
  platform_address: string;
  gateway_address: string;
  address_prefix: string;
  fee_bps: number;
  fee_rate: number;
  shannons_per_point?: string | number;
  payout_threshold: string;
  prepare_ttl_secs: number;
  pool: { free_cells: number; free_capacity: string; leased_cells: number; leased_capacity: string };
}

export interface HubPayment {
  payment_id: number;
  sender: string;
  sender_lock_args: string;
  receiver: string;
  receiver_lock_args: string;
  amount: string;
  fee: string;
  change: string;
  state: string;
  is_complete: boolean;
  tx_hash: string;
  block_number: number | null;
  points: string | null;
  failure: string | null;
  expires_at: number;
  created_at: number;
  updated_at: number;
  splits?: { receiver: string; role: string; amount: string; is_payed: boolean; tx_hash: string | null }[];
}

export interface PreparedAnswer extends HubPayment {
  raw_tx: string;
  sender_inputs: string[];
  hub_input: string;
}

export interface HubBalance {
  address: string;
  unpaid: string;
  in_payout: string;
  paid: string;
}
