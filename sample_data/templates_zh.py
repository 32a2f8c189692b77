"""Chinese (Simplified) wording for the sample generator; same shape as ``templates_en``.

Written for Concord (Apache-2.0). Entity values sit directly against Chinese characters with no
spaces (e.g. "订单{order_id}"), which is what makes code-point offsets matter.
"""

USER = {
    "greeting": {"open": ["n|你好", "n|您好，在吗？", "+|早上好！", "n|你好，请问是客服吗？", "n|在吗"]},
    "track_order": {
        "open": [
            "n|我的订单{order_id}到哪了？", "-|订单{order_id}一个星期了还没到，怎么回事？",
            "n|请帮我查一下{product}什么时候发货。", "n|查物流",
        ],
        "detail": ["n|订单号是{order_id}", "n|{order_id}，{date}下的单。"],
    },
    "cancel_order": {
        "open": ["n|我想取消订单。", "n|帮我取消订单{order_id}，谢谢。", "-|{product}别发了，我要取消！"],
        "detail": ["n|订单号{order_id}", "n|就是{date}买的那个{product}。"],
    },
    "return_item": {
        "open": [
            "n|退款 🙂 订单{order_id}", "-|收到的{product}是坏的，我要退货退款。",
            "n|{date}买的{product}可以退吗？", "-|质量太差了，{product}我要退。",
        ],
        "detail": ["n|订单{order_id}，付了{amount}。", "n|金额是{amount}。"],
    },
    "change_address": {
        "open": ["n|收货地址能改成{city}吗？", "n|我搬家了，订单{order_id}请寄到{city}。"],
        "detail": ["n|新地址在{city}，订单号{order_id}。"],
    },
    "check_balance": {
        "open": ["n|帮我查一下账户余额。", "n|我的储蓄卡还有多少钱？", "n|{date}的工资到账了吗？想看看余额。"],
        "detail": ["n|尾号4471的那张卡。"],
    },
    "report_lost_card": {
        "open": ["-|我的银行卡丢了，请马上冻结！", "-|我在{city}钱包被偷了，卡也在里面。"],
        "detail": ["n|最后一次用是{date}，在{city}。"],
    },
    "book_flight": {
        "open": ["n|我想订一张{date}从{city}到{city2}的机票。", "+|下个月想去{city2}玩，有便宜的机票吗？"],
        "detail": ["n|乘客是{person}，{date}出发。", "n|从{city}出发，经济舱就行。"],
    },
    "hotel_reservation": {
        "open": ["n|帮我在{city}订一间酒店，{date}入住。", "n|{city}这周末还有房间吗？"],
        "detail": ["n|住两晚，入住人{person}。", "n|确认信息发到{email}。"],
    },
    "speak_to_human": {"open": ["-|转人工！", "n|可以帮我转人工客服吗？"]},
    "complaint": {"open": ["-|你们的服务太差了。", "-|等了半个小时都没人回复，太失望了 😤"]},
    "thanks_goodbye": {"open": ["+|好的，谢谢！", "+|太好了，非常感谢 👍🏽", "n|好，再见。"]},
}

MULTI = [
    (["track_order", "change_address"], "n|帮我查一下订单{order_id}，顺便把收货地址改成{city}。"),
    (["report_lost_card", "dispute_charge"], "-|卡丢了，而且{date}有一笔{amount}的消费不是我刷的！"),
]

BOT = {
    "greeting": {"open": ["您好！请问有什么可以帮您？", "您好，我是智能客服，请问需要什么帮助？"]},
    "track_order": {
        "open": ["好的，请提供一下订单号。"],
        "detail": ["订单{order_id}已经发货，预计{date2}送达。"],
    },
    "cancel_order": {
        "open": ["可以的，请问要取消哪个订单？"],
        "detail": ["已为您取消订单{order_id}，款项将在5个工作日内退回。"],
    },
    "return_item": {
        "open": ["很抱歉给您带来不便，已为您提交退货申请，请问订单号是多少？"],
        "detail": ["退款{amount}将在收到退货后原路退回。"],
    },
    "change_address": {
        "open": ["好的，请提供订单号和新的收货地址。"],
        "detail": ["已将订单{order_id}的收货地址改为{city}。"],
    },
    "check_balance": {
        "open": ["请问要查询哪个账户？"],
        "detail": ["您的账户余额为8,326.40元。"],
    },
    "report_lost_card": {
        "open": ["已为您冻结该卡，需要补办新卡吗？"],
        "detail": ["卡片已挂失，新卡将在5个工作日内寄出。"],
    },
    "book_flight": {
        "open": ["{date}飞往{city2}的航班有三班，最低价680元，需要为您预订吗？"],
        "detail": ["已为您预订，订单号{booking_ref}。"],
    },
    "hotel_reservation": {
        "open": ["{city}有几家酒店还有空房，您想住市中心还是机场附近？"],
        "detail": ["预订成功，确认信息已发送到{email}。"],
    },
    "speak_to_human": {"open": ["正在为您转接人工客服，请稍候。"]},
    "complaint": {"open": ["非常抱歉给您带来不好的体验，我已经把您的问题升级处理。"]},
    "thanks_goodbye": {"open": ["不客气，祝您生活愉快！"]},
}

MULTI_BOT = {
    ("track_order", "change_address"): "订单{order_id}还没发货，收货地址已改为{city}。",
    ("report_lost_card", "dispute_charge"): "卡已冻结，那笔{amount}的消费已为您提交争议处理。",
}
