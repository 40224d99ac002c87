/*
 * anvil.h -- the one public header of anvil's C core.
 *
 * Plain C11, libc and libm only. Every function takes pointers plus lengths,
 * returns an int status (ANVIL_OK or one of ANVIL_E_*), and writes only into
 * buffers the caller owns. Nothing here allocates memory that outlives a call.
 *
 * The region between the cdef markers is read verbatim by engine/_build.py
 * into cffi's cdef, with every `#define NAME value` turned into
 * `#define NAME ...` so that the constants' values come from this file alone.
 * Keep that region free of other preprocessor lines.
 */
#ifndef ANVIL_H
#define ANVIL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* cdef-begin */

#define ANVIL_ABI_VERSION 3

/* Status codes. */
#define ANVIL_OK 0
#define ANVIL_E_NULL 1      /* a required pointer is NULL */
#define ANVIL_E_SIZE 2      /* a length or count is out of range */
#define ANVIL_E_PRICE 3     /* a price is NaN, infinite, not positive, or OHLC disagree */
#define ANVIL_E_SIGNAL 4    /* a signal value outside the allowed set */
#define ANVIL_E_CONFIG 5    /* a config value out of range */
#define ANVIL_E_CAPACITY 6  /* an output buffer is too small */
#define ANVIL_E_KIND 7      /* an unknown enum value (signal kind, fill mode) */
#define ANVIL_E_STATE 8     /* a stepping call out of sequence, or an unknown order id */

/* int8 signal value meaning "change nothing". */
#define ANVIL_HOLD -128

/* Signal kinds. */
#define ANVIL_SIGNAL_I8 0   /* int8: 1 long, -1 short, 0 flat, ANVIL_HOLD */
#define ANVIL_SIGNAL_F64 1  /* float64 target exposure, NaN = change nothing */

/* Fill modes. */
#define ANVIL_FILL_NEXT_OPEN 0
#define ANVIL_FILL_CLOSE 1

/* Why a trade was closed. */
#define ANVIL_EXIT_SIGNAL 0
#define ANVIL_EXIT_STOP_LOSS 1
#define ANVIL_EXIT_TAKE_PROFIT 2
#define ANVIL_EXIT_TRAILING_STOP 3
#define ANVIL_EXIT_END 4
#define ANVIL_EXIT_MARGIN 5  /* equity reached zero: liquidated, no more trading */

/* One series of bars. The arrays are the caller's and hold n values each. */
typedef struct {
    const double *open;
    const double *high;
    const double *low;
    const double *close;
    int64_t n;
    const int64_t *ts;        /* n bar times, ns UTC; read only by daily_loss_limit (else may be NULL) */
    int64_t checked;          /* 1: these arrays passed anvil_check_bars (or the same rules) and
                                 have not changed since, so the entry points skip the check;
                                 0: they check (pointers and n are checked either way) */
} anvil_bars;

/* Costs, sizing and risk settings of one backtest. Fractions are 0.01 = 1 %;
 * a risk level of 0 turns that exit off. */
typedef struct {
    double initial_capital;   /* > 0 */
    double fee_rate;          /* fraction of notional per order, [0, 1) */
    double fee_per_unit;      /* money per unit traded, >= 0 */
    double fixed_fee;         /* money per order, >= 0 */
    double slippage_bps;      /* basis points against the trader, [0, 10000) */
    double stop_loss;         /* fraction below (long) / above (short) entry, [0, 1) */
    double take_profit;       /* fraction above (long) / below (short) entry, >= 0 */
    double trailing_stop;     /* fraction off the best price since entry, [0, 1) */
    double max_leverage;      /* cap on |target exposure|, > 0 */
    double periods_per_year;  /* bars per year for annualising, > 0 */
    int32_t fill;             /* ANVIL_FILL_* */
    int32_t allow_short;      /* 0: a short target means flat */
    int32_t integer_units;    /* 1: units rounded toward zero */
    int32_t close_at_end;     /* 1: close an open position at the last close */
    /* Risk rules of one series (csrc/rules.h; 0 = off). Portfolios read their
     * own fields of the same names in anvil_pf_config, not these. */
    double max_weight;        /* cap on |exposure| at a fill, >= 0 */
    double max_drawdown_halt; /* flat and no orders for halt_bars bars when equity at a
                                 fill is this fraction below its peak, [0, 1) */
    double daily_loss_limit;  /* flat and no orders for the rest of the UTC day when equity
                                 at a fill is this fraction below the day's start, [0, 1);
                                 needs anvil_bars.ts */
    int64_t halt_bars;        /* >= 1 when max_drawdown_halt is on */
    int64_t cooldown_bars;    /* after a stop-loss / trailing-stop exit, no increases
                                 for this many bars, >= 0 */
} anvil_config;

/* Statistics of one backtest; the field names are the metric names. */
typedef struct {
    double total_return;
    double annual_return;
    double net_pnl;
    double final_equity;
    double total_fees;
    double sharpe;
    double sortino;
    double calmar;
    double max_drawdown;
    double max_drawdown_duration;
    double volatility;
    double total_trades;
    double win_rate;
    double profit_factor;
    double avg_trade_return;
    double best_trade;
    double worst_trade;
    double avg_win;
    double avg_loss;
    double expectancy;
    double exposure;
    double avg_bars_held;
} anvil_stats;

/* One closed trade (or the closed part of a position). */
typedef struct {
    int64_t entry_bar;
    int64_t exit_bar;
    double units;             /* > 0; direction says long or short */
    double entry_price;       /* average fill price, slippage included */
    double exit_price;
    double entry_fees;        /* the share of entry fees these units carry */
    double exit_fees;
    double pnl;               /* net of all fees */
    double ret;               /* pnl / (units * entry_price) */
    int32_t direction;        /* +1 long, -1 short */
    int32_t exit_reason;      /* ANVIL_EXIT_* */
} anvil_trade;

/* The most trades a backtest over n bars can close; size trade buffers with it. */
int64_t anvil_max_trades(int64_t n_bars);

/* Check bars and config; on ANVIL_E_PRICE *bad_index is the first bad bar. */
int anvil_check_bars(const anvil_bars *bars, int64_t *bad_index);
int anvil_check_config(const anvil_config *cfg);

/* One backtest. signal points at bars->n values of signal_kind.
 * equity (n values) and trades (trades_cap records) are optional (NULL);
 * *n_trades receives the number of closed trades when n_trades is not NULL.
 * On ANVIL_E_SIGNAL, *bad_index (if given) is the first bad bar. */
int anvil_backtest(const anvil_bars *bars, const void *signal, int32_t signal_kind,
                   const anvil_config *cfg, anvil_stats *stats, double *equity,
                   anvil_trade *trades, int64_t trades_cap, int64_t *n_trades,
                   int64_t *bad_index);

/* n_runs backtests over the same bars: signals is row-major [n_runs][bars->n],
 * cfgs holds 1 config (shared) or n_runs (one per run), stats receives n_runs
 * records. Allocates nothing. On ANVIL_E_SIGNAL, *bad_index (if given) is
 * run * bars->n + bar of the first bad value. */
int anvil_batch(const anvil_bars *bars, const void *signals, int32_t signal_kind,
                int64_t n_runs, const anvil_config *cfgs, int64_t n_cfgs,
                anvil_stats *stats, int64_t *bad_index);

/* 1 when anvil_backtest and anvil_batch run their copies compiled for AVX2 (chosen
 * when the library loads: x86-64 CPUs that have it, unless ANVIL_CORE_NARROW=1 is in
 * the environment), 0 for the plain copies. Both give the same bits. */
int anvil_core_wide(void);

/* ---- Stepping: one bar at a time, for strategies that decide bar by bar ----
 *
 * The caller allocates anvil_sim_size() bytes (suitably aligned, e.g. malloc)
 * and keeps bars, equity and trades alive until anvil_sim_finish. For each bar
 * t = 0, 1, ... in order: anvil_sim_open(t) runs what happens from the open
 * until just before the close (pending market orders fill at the open under
 * fill=next_open, then risk exits, then limit and stop orders); the strategy
 * may then place orders; anvil_sim_close(t) fills market orders at the close
 * under fill=close (not on the last bar), applies close_at_end on the last bar
 * and marks equity. Orders placed at bar t act from bar t+1 (market orders
 * under fill=close: at the close of t). Targets are exposures as in float
 * signals; a target order trades exactly as a signal change to that value.
 */
#define ANVIL_ORDER_MARKET 0
#define ANVIL_ORDER_LIMIT 1
#define ANVIL_ORDER_STOP 2
#define ANVIL_SIDE_BUY 1
#define ANVIL_SIDE_SELL -1
#define ANVIL_SIDE_EXIT 0     /* closes the position, whichever side it is on */
#define ANVIL_MAX_ORDERS 256  /* live orders per simulation */

typedef struct anvil_sim anvil_sim;

/* A snapshot of the account between events. */
typedef struct {
    double cash;
    double units;          /* signed position */
    double avg_price;      /* average entry price of the open position, 0 if flat */
    double total_fees;
    int64_t entry_bar;     /* bar the open position was entered, -1 if flat */
    int64_t n_trades;      /* closed trades so far */
    int64_t n_orders;      /* live orders */
    int64_t next_bar;      /* the bar anvil_sim_open expects next */
} anvil_sim_state;

int64_t anvil_sim_size(void);
int anvil_sim_init(anvil_sim *sim, int64_t sim_size, const anvil_bars *bars,
                   const anvil_config *cfg, double *equity, anvil_trade *trades,
                   int64_t trades_cap);
int anvil_sim_open(anvil_sim *sim, int64_t t);
int anvil_sim_close(anvil_sim *sim, int64_t t);
/* Place an order: type ANVIL_ORDER_*, side ANVIL_SIDE_*, price (ignored for
 * market orders), target exposure (ignored for exits). *order_id gets its id. */
int anvil_sim_order(anvil_sim *sim, int32_t type, int32_t side, double price, double target,
                    int64_t *order_id);
int anvil_sim_cancel(anvil_sim *sim, int64_t order_id);
int anvil_sim_cancel_all(anvil_sim *sim);
int anvil_sim_get_state(const anvil_sim *sim, anvil_sim_state *out);
/* After the last bar's anvil_sim_close: the stats, and *n_trades. */
int anvil_sim_finish(anvil_sim *sim, anvil_stats *stats, int64_t *n_trades);

/* Statistics as a pure function of an equity curve and closed trades: the same
 * definitions as a backtest's (for stitched or resampled curves). in_market
 * (n flags, 0/1) and trades are optional; total_fees sums the trades' fees. */
int anvil_stats_from_equity(const double *equity, int64_t n, double initial_capital,
                            double periods_per_year, const uint8_t *in_market,
                            const anvil_trade *trades, int64_t n_trades, anvil_stats *stats);

/* Signals of many parameter sets at once (csrc/compare.c): row r of out (rows
 * x n int8, row-major) is 1 where a[r][t] > b[r][t] and, when sign is given
 * and sign[r] is not 0, -1 where a[r][t] < b[r][t]; 0 elsewhere (equal, or a
 * NaN on either side). a[r] and b[r] hold n values each. */
int anvil_compare_rows(const double *const *a, const double *const *b, const int8_t *sign,
                       int64_t rows, int64_t n, int8_t *out);

/* Technical indicators (csrc/ind_*.c), TA-Lib's definitions. Inputs hold
 * n values each; every output holds n values, is owned by the caller, must not
 * overlap the inputs or another output, and is NaN during the warm-up. A period
 * longer than the series makes every output NaN; n < 0 or a period < 1 is
 * ANVIL_E_SIZE. Allocates nothing. */
int anvil_sma(const double *close, int64_t n, int64_t period, double *out);
int anvil_ema(const double *close, int64_t n, int64_t period, double *out);
int anvil_wma(const double *close, int64_t n, int64_t period, double *out);
int anvil_rsi(const double *close, int64_t n, int64_t period, double *out);
int anvil_macd(const double *close, int64_t n, int64_t fast, int64_t slow, int64_t signal,
               double *line, double *signal_line, double *hist);
int anvil_roc(const double *close, int64_t n, int64_t period, double *out);
int anvil_momentum(const double *close, int64_t n, int64_t period, double *out);
int anvil_stddev(const double *close, int64_t n, int64_t period, double *out);
int anvil_zscore(const double *close, int64_t n, int64_t period, double *out);
int anvil_bbands(const double *close, int64_t n, int64_t period, double nbdev_up,
                 double nbdev_dn, double *upper, double *middle, double *lower, double *width);
int anvil_highest(const double *close, int64_t n, int64_t period, double *out);
int anvil_lowest(const double *close, int64_t n, int64_t period, double *out);
int anvil_true_range(const double *high, const double *low, const double *close, int64_t n,
                     double *out);
int anvil_atr(const double *high, const double *low, const double *close, int64_t n,
              int64_t period, double *out);
int anvil_stoch(const double *high, const double *low, const double *close, int64_t n,
                int64_t fastk, int64_t slowk, int64_t slowd, double *k, double *d);
/* work: n values of scratch. */
int anvil_willr(const double *high, const double *low, const double *close, int64_t n,
                int64_t period, double *out, double *work);
int anvil_cci(const double *high, const double *low, const double *close, int64_t n,
              int64_t period, double *out);
int anvil_adx(const double *high, const double *low, const double *close, int64_t n,
              int64_t period, double *out);
int anvil_vwap(const double *high, const double *low, const double *close, const double *volume,
               int64_t n, int64_t period, double *out);
int anvil_obv(const double *close, const double *volume, int64_t n, double *out);

/* ==== Portfolios: many symbols, one cash account (csrc/portfolio.c, portfolio_api.c) ====
 * Appended block: everything below until the next marker belongs to issue 10.
 *
 * A panel holds n_symbols series on one time axis. Cell (t, j) of each array
 * sits at index t * stride + j (stride >= n_symbols; prices and the tradable
 * flags may use different strides). tradable[t][j] is 1 where symbol j has a
 * bar at t; prices there must be valid bars, elsewhere they are not read.
 * Weights are row-major [n_bars][n_symbols] float64 target weights (fractions
 * of equity, negative = short, NaN = leave that symbol alone). */
#define ANVIL_EXIT_DELISTED 10   /* the symbol's data ended: closed at its last close */
#define ANVIL_RULE_MAX_WEIGHT 1  /* a weight capped at max_weight; value = the weight asked */
#define ANVIL_RULE_CASH 2        /* increases shrunk for lack of cash; value = the factor */
#define ANVIL_RULE_DRAWDOWN 3    /* drawdown halt: everything closed; value = the drawdown */
#define ANVIL_RULE_DAILY_LOSS 4  /* daily loss limit: everything closed; value = the day's loss */
#define ANVIL_RULE_COOLDOWN 5    /* a stop exit starts a cool-down; value = its bars */
#define ANVIL_RULE_MARGIN 6      /* equity at a close was zero or below: everything liquidated
                                    there (ANVIL_EXIT_MARGIN), no more trading; value = that equity */
#define ANVIL_EXIT_RISK 11       /* closed by a drawdown halt or the daily loss limit */

typedef struct {
    const double *open;
    const double *high;
    const double *low;
    const double *close;
    const uint8_t *tradable;
    const int64_t *ts;        /* n_bars bar times, ns UTC; needed by daily_loss_limit only */
    int64_t n_bars;
    int64_t n_symbols;
    int64_t stride;           /* elements between rows of the price arrays */
    int64_t tradable_stride;  /* elements between rows of tradable */
} anvil_panel;

/* A portfolio's settings: the one-series config plus what only portfolios have.
 * base.max_leverage caps the gross (sum of |weights|) a row may ask for. */
typedef struct {
    anvil_config base;
    double borrow_rate;          /* yearly fraction of a short's value, accrued each close, >= 0 */
    double rebalance_threshold;  /* skip a trade whose weight change is smaller, >= 0 */
    double max_weight;           /* cap on |weight| per symbol, 0 = off */
    /* Risk rules, checked at every fill against equity valued at the fill prices;
     * a firing closes every position that trades there (ANVIL_EXIT_RISK). */
    double max_drawdown_halt;    /* halt when equity is this fraction below its peak, 0 = off */
    double daily_loss_limit;     /* flat for the rest of the UTC day when equity is this
                                    fraction below the day's starting equity, 0 = off */
    int64_t halt_bars;           /* bars a drawdown halt ignores the weights, >= 1 when on;
                                    the peak restarts from the equity left */
    int64_t cooldown_bars;       /* after a stop-loss / trailing-stop exit, increases of
                                    that symbol are ignored for this many bars, >= 0 */
} anvil_pf_config;

/* One closed trade of one symbol. */
typedef struct {
    int64_t entry_bar;
    int64_t exit_bar;
    double units;
    double entry_price;
    double exit_price;
    double entry_fees;
    double exit_fees;
    double pnl;
    double ret;
    int32_t direction;
    int32_t exit_reason;      /* ANVIL_EXIT_* */
    int64_t symbol;
} anvil_pf_trade;

/* One firing of a risk rule. */
typedef struct {
    int64_t bar;
    int64_t symbol;           /* -1: the portfolio as a whole */
    int32_t rule;             /* ANVIL_RULE_* */
    int32_t reserved;
    double value;
} anvil_pf_event;

/* What a portfolio returns beside anvil_stats. */
typedef struct {
    double turnover;          /* traded notional / average equity */
    double traded;            /* traded notional */
    double borrow_cost;       /* short borrow paid */
    int64_t n_trades;         /* trades closed (all of them, even past trades_cap) */
    int64_t n_events;         /* events fired (all of them, even past events_cap) */
} anvil_pf_extra;

/* Optional outputs of one portfolio run; every pointer may be NULL. */
typedef struct {
    double *equity;           /* n_bars */
    double *cash;             /* n_bars */
    double *weights;          /* n_bars * n_symbols: each position's weight at the close */
    double *contributions;    /* n_symbols: each symbol's share of net P&L */
    anvil_pf_trade *trades;
    int64_t trades_cap;
    anvil_pf_event *events;
    int64_t events_cap;
} anvil_pf_outputs;

/* Costs per symbol: each pointer is n_symbols values, or NULL for the config's
 * scalar of the same name. The whole struct may be NULL (every scalar). */
typedef struct {
    const double *fee_rate;
    const double *slippage_bps;
    const double *fee_per_unit;
    const double *fixed_fee;
} anvil_pf_costs;

/* Bytes of scratch memory one run over n_symbols needs (work below). */
int64_t anvil_pf_work_size(int64_t n_symbols);
/* Check a panel; on ANVIL_E_PRICE *bad_index is t * n_symbols + j of the first bad cell. */
int anvil_check_panel(const anvil_panel *panel, int64_t *bad_index);
int anvil_check_pf_config(const anvil_pf_config *cfg);

/* One portfolio, with per-symbol costs (NULL: the config's scalars). On
 * ANVIL_E_SIGNAL (an infinite weight) *bad_index is t * n_symbols + j. out may
 * be NULL (stats only). Returns ANVIL_E_CAPACITY when trades or events did not
 * fit (extra holds the counts needed). */
int anvil_portfolio(const anvil_panel *panel, const double *weights, const anvil_pf_config *cfg,
                    const anvil_pf_costs *costs, void *work,
                    int64_t work_size, anvil_stats *stats, anvil_pf_extra *extra,
                    const anvil_pf_outputs *out, int64_t *bad_index);

/* n_runs portfolios over one panel: weights[r] points at run r's row-major
 * [n_bars][n_symbols] weights (the matrices need not be adjacent); cfgs 1
 * (shared) or n_runs records; stats and extras (optional) n_runs records each.
 * work holds at least one run's scratch (anvil_pf_work_size); with room for
 * g runs' (g <= ANVIL_PF_GROUP) the runs go g at a time, stepped together bar by
 * bar, so each row of the panel is read from memory once for g runs. The
 * numbers do not depend on g.
 * On ANVIL_E_SIGNAL *bad_index is (run * n_bars + t) * n_symbols + j. */
#define ANVIL_PF_GROUP 8
int anvil_portfolio_batch(const anvil_panel *panel, const double *const *weights, int64_t n_runs,
                          const anvil_pf_config *cfgs, int64_t n_cfgs, const anvil_pf_costs *costs,
                          void *work, int64_t work_size,
                          anvil_stats *stats, anvil_pf_extra *extras, int64_t *bad_index);
/* Stepping a portfolio bar by bar (for strategies that decide on each close):
 * allocate anvil_pf_sim_size(n_symbols) bytes (8-byte aligned) and keep the
 * panel's arrays, the costs and the outputs alive until anvil_pf_sim_finish.
 * For t = 0, 1, ...: anvil_pf_sim_open(t) runs the bar up to its close
 * (delistings, stops, and under next_open the rebalance decided at the last
 * close); the strategy decides; anvil_pf_sim_close(t, row) takes that bar's
 * row of weights (n_symbols values, copied; NULL = no instruction) and runs the
 * rest: under fill=close the rebalance at this close, close_at_end, marking.
 * The same rows as a weights matrix give the same numbers as anvil_portfolio.
 * On ANVIL_E_SIGNAL from anvil_pf_sim_close, *bad_index is the column. */
typedef struct anvil_pf_sim anvil_pf_sim;
int64_t anvil_pf_sim_size(int64_t n_symbols);
int anvil_pf_sim_init(anvil_pf_sim *sim, int64_t sim_size, const anvil_panel *panel,
                      const anvil_pf_config *cfg, const anvil_pf_costs *costs,
                      const anvil_pf_outputs *out);
int anvil_pf_sim_open(anvil_pf_sim *sim, int64_t t);
int anvil_pf_sim_close(anvil_pf_sim *sim, int64_t t, const double *row, int64_t *bad_index);
/* After the last bar's close: stats and extra (ANVIL_E_CAPACITY as anvil_portfolio). */
int anvil_pf_sim_finish(anvil_pf_sim *sim, anvil_stats *stats, anvil_pf_extra *extra);
/* ==== end of the portfolio block ==== */

/* ==== Risk rules of one series (csrc/rules.h) ====
 * anvil_backtest with the firings of the config's risk rules: events (events_cap
 * records, optional) get one anvil_pf_event each (symbol 0), *n_events (optional)
 * their count; ANVIL_E_CAPACITY when trades or events did not fit. */
int anvil_backtest_events(const anvil_bars *bars, const void *signal, int32_t signal_kind,
                          const anvil_config *cfg, anvil_stats *stats, double *equity,
                          anvil_trade *trades, int64_t trades_cap, int64_t *n_trades,
                          anvil_pf_event *events, int64_t events_cap, int64_t *n_events,
                          int64_t *bad_index);
/* The most risk events a backtest over n bars can fire. */
int64_t anvil_max_events(int64_t n_bars);
/* Stepping: where the simulation writes its risk events (call after
 * anvil_sim_init, before the first bar), and how many fired so far. */
int anvil_sim_set_events(anvil_sim *sim, anvil_pf_event *events, int64_t events_cap);
int anvil_sim_n_events(const anvil_sim *sim, int64_t *n_events);
/* ==== end of the one-series risk rules ==== */

/* cdef-end */

#ifdef __cplusplus
}
#endif

#endif /* ANVIL_H */
