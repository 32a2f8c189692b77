"""English wording for the sample generator: user turns and assistant responses per intent.

Each user template is "<sentiment>|<text>" with sentiment "n" (neutral), "-" (negative) or "+"
(positive). ``{slot}`` placeholders become entity spans (label = the slot name without a trailing
digit); the generator computes their code-point offsets. "open" turns start a request, "detail" turns
answer the assistant's question. Written for Concord (Apache-2.0), not taken from any dataset.
"""

USER = {
    "greeting": {"open": [
        "n|Hi there", "n|Hello?", "+|Hey, good morning!", "n|hi", "+|Hello, hope you're having a good day",
        "n|Good afternoon, anyone there?", "n|Hi, quick question", "n|hello, is this the support chat?",
        "n|Hey", "+|Morning! 😊", "n|hi, I need some help",
    ]},
    "track_order": {
        "open": [
            "n|Where is my order?", "n|Can you check the status of order #{order_id}?",
            "-|My package still hasn't shown up and it's been a week.",
            "n|I ordered the {product} on {date}, when will it arrive?",
            "-|The tracking page for {order_id} hasn't updated in days, what's going on",
            "n|Hi, could you tell me when order {order_id} will be delivered?",
            "n|has my {product} shipped yet",
        ],
        "detail": [
            "n|It's {order_id}", "n|The order number is #{order_id}.", "n|sure, {order_id}",
            "-|I already gave it to your colleague: {order_id}", "n|Order {order_id}, placed on {date}.",
        ],
    },
    "cancel_order": {
        "open": [
            "n|I'd like to cancel an order.", "n|Please cancel order #{order_id}.",
            "-|I need to cancel my order, I found the {product} cheaper elsewhere.",
            "n|Is it too late to cancel what I bought on {date}?",
            "n|cancel my order pls", "-|Cancel {order_id} right now, I never agreed to express shipping.",
        ],
        "detail": [
            "n|Order {order_id}.", "n|It's #{order_id}, the {product}.", "n|{order_id} — placed {date}",
            "n|The confirmation went to {email}, order {order_id}.",
        ],
    },
    "return_item": {
        "open": [
            "n|How do I return the {product} I bought?", "-|The {product} arrived broken. I want my money back.",
            "n|I'd like a refund for order {order_id}.", "-|This {product} is nothing like the photos, I'm sending it back",
            "n|Can I return something I bought on {date}?", "n|What's your return policy for sale items?",
        ],
        "detail": [
            "n|It was the {product}, order {order_id}.", "n|I paid {amount} for it.",
            "n|Please send the return label to {email}.",
            "-|Order {order_id}. And I expect the full {amount} back, not store credit.",
        ],
    },
    "change_address": {
        "open": [
            "n|I moved — can I change the delivery address for my order?",
            "n|Please ship order {order_id} to my new place in {city} instead.",
            "n|I typed the wrong city, it should be {city}, not the old one.",
            "n|Can the parcel go to my office? I'll be in {city} until {date}.",
        ],
        "detail": [
            "n|Order {order_id}, new city is {city}.", "n|The new address is in {city}, same street name though.",
        ],
    },
    "product_question": {
        "open": [
            "n|Does the {product} come in other colours?", "n|Is the {product} back in stock?",
            "n|What's the difference between the {product} and the pro version?",
            "+|Love the {product}! Do you sell spare parts for it?",
            "n|How long is the warranty on the {product}?", "n|Will the {product} be on sale before {date}?",
            "n|Can you let me know at {email} when the {product} is available again?",
        ],
        "detail": ["n|The {product}, the one on the front page.", "n|I mean the {product} that costs {amount}."],
    },
    "payment_issue": {
        "open": [
            "-|My card was charged twice for the same order.", "n|The payment page keeps failing at checkout.",
            "-|I was charged {amount} but the order never went through!",
            "n|Why was I charged {amount} on {date}? I don't recognise it.",
            "n|Can I pay with PayPal instead of a card?",
        ],
        "detail": ["n|Both charges were {amount}, on {date}.", "n|The order was {order_id}.",
                   "n|Can you email the receipt to {email}? The charge was {amount}."],
    },
    "check_balance": {
        "open": [
            "n|What's my current balance?", "n|How much money do I have in my savings account?",
            "n|can u tell me my balance", "n|Has my salary come in yet? I need to check my balance.",
            "n|What was my balance on {date}?",
        ],
        "detail": ["n|The checking account, please.", "n|My main account, the one ending 4471."],
    },
    "report_lost_card": {
        "open": [
            "-|I've lost my debit card, please block it!", "-|My wallet was stolen in {city} with my card in it.",
            "n|I think I left my credit card at a restaurant on {date}.", "-|someone stole my card, help",
            "n|How do I freeze my card? I can't find it.",
        ],
        "detail": [
            "n|I last used it on {date} in {city}.", "n|It was the Visa card, I noticed this morning.",
        ],
    },
    "transfer_money": {
        "open": [
            "n|I want to send {amount} to {person}.", "n|How do I transfer money to another bank?",
            "n|Please move {amount} from savings to checking.", "n|Can I schedule a transfer to {person} for {date}?",
            "-|My transfer to {person} didn't go through and I need it today.",
        ],
        "detail": ["n|{amount}, to {person}.", "n|Send it on {date}, please.", "n|The recipient is {person}, {email}."],
    },
    "dispute_charge": {
        "open": [
            "-|There's a charge of {amount} on my statement I didn't make.",
            "-|I was billed {amount} by a shop I've never heard of.",
            "n|I'd like to dispute a transaction from {date}.",
            "-|I cancelled that subscription months ago and you still charged me {amount}!",
        ],
        "detail": ["n|It was on {date}, {amount}.", "n|The merchant name says something in {city}."],
    },
    "book_flight": {
        "open": [
            "n|I need a flight from {city} to {city2} on {date}.", "n|Are there any cheap flights to {city2} next month?",
            "+|Booking a trip to {city2} for my anniversary, what do you have on {date}?",
            "n|I'd like to book a one-way ticket to {city2}.", "n|What's the earliest flight out of {city} tomorrow?",
        ],
        "detail": [
            "n|Leaving {date}, coming back {date2}.", "n|Just one passenger, {person}.",
            "n|From {city}, please, economy is fine.",
        ],
    },
    "change_booking": {
        "open": [
            "n|Can I change the date of my booking {booking_ref}?", "n|I need to move my flight to {date}.",
            "-|My plans fell through, I have to rebook {booking_ref} and I don't want to pay another fee.",
            "n|Is it possible to put a different name on my ticket?",
        ],
        "detail": [
            "n|The reference is {booking_ref}.", "n|Booking {booking_ref}, moving it to {date}.",
            "n|It's {booking_ref}, under {person}.",
        ],
    },
    "hotel_reservation": {
        "open": [
            "n|I'd like to book a hotel room in {city} from {date} to {date2}.",
            "n|Do you have rooms available in {city} this weekend?", "+|Can you find me a nice hotel near the beach in {city}?",
            "n|I need a double room for two nights, under the name {person}.",
        ],
        "detail": ["n|Two adults, checking in {date}.", "n|In {city}, close to the station if possible.", "n|Send the confirmation to {email}."],
    },
    "baggage_issue": {
        "open": [
            "-|My suitcase didn't arrive in {city}.", "-|The airline lost my bag and nobody at the airport can help.",
            "n|How much does an extra checked bag cost on {booking_ref}?",
            "-|My luggage came back damaged, the handle is snapped off.",
        ],
        "detail": ["n|Booking {booking_ref}, flight landed on {date}.", "n|It's a black hard-shell case with a red tag."],
    },
    "speak_to_human": {"open": [
        "-|Can I talk to a real person please?", "-|I want to speak to an agent, not a bot.", "n|Is there a phone number I can call?",
        "-|human please", "n|Could you transfer me to someone in the billing team?",
    ]},
    "complaint": {"open": [
        "-|This is the worst service I've ever had.", "-|I've been waiting for 40 minutes for a reply, this is ridiculous.",
        "-|Honestly I'm really disappointed with how this was handled.", "-|You keep sending me the same useless links.",
    ]},
    "thanks_goodbye": {"open": [
        "+|Thanks, that's all!", "+|Great, thank you so much.", "n|ok bye", "+|Perfect, you've been very helpful.",
        "n|Alright, thanks.", "+|Awesome, have a nice day!", "-|Fine. Bye.",
    ]},
}

MULTI = [  # (intents, user template): a turn with two independent requests
    (["cancel_order", "change_address"], "n|Please cancel order {order_id} — or if it has shipped, send it to {city} instead."),
    (["track_order", "complaint"], "-|Where is order {order_id}?? Third time I'm asking and nobody ever answers."),
    (["return_item", "product_question"], "n|I want to return the {product}; also, does the newer model come in black?"),
    (["report_lost_card", "dispute_charge"], "-|I lost my card yesterday and there's a {amount} charge from {date} that wasn't me."),
    (["book_flight", "hotel_reservation"], "n|I need a flight to {city2} on {date} and a hotel there for three nights."),
    (["check_balance", "transfer_money"], "n|What's my balance, and can I send {amount} to {person} today?"),
    (["change_booking", "baggage_issue"], "n|Can I move {booking_ref} to {date}, and add a second checked bag?"),
]

BOT = {
    "greeting": {"open": ["Hello! How can I help you today?", "Hi, thanks for reaching out. What can I do for you?",
                          "Hi! I'm the virtual assistant. What do you need help with?",
                          "Good to hear from you. How can I help?"]},
    "track_order": {
        "open": ["I can check that for you. What's your order number?", "Sure — could you share the order number?"],
        "detail": ["Order {order_id} left our warehouse and should arrive by {date2}.",
                   "Thanks! {order_id} is with the courier now; expected delivery is {date2}."],
    },
    "cancel_order": {
        "open": ["I can help with that. Which order would you like to cancel?"],
        "detail": ["Done — order {order_id} is cancelled and you'll be refunded within 5 business days.",
                   "Order {order_id} hadn't shipped yet, so I've cancelled it. You'll get a confirmation email."],
    },
    "return_item": {
        "open": ["Sorry about that. You can return items within 30 days — which order is it?"],
        "detail": ["I've opened a return for order {order_id}. A prepaid label is on its way to your email.",
                   "Your refund of {amount} will be processed as soon as the item reaches us."],
    },
    "change_address": {
        "open": ["No problem. What's the order number and the new address?"],
        "detail": ["Updated: order {order_id} will now be delivered to {city}."],
    },
    "product_question": {
        "open": ["Good question! The {product} comes in black, white and navy, and it has a two-year warranty."],
        "detail": ["The {product} is back in stock from {date2}; I can notify you when it is."],
    },
    "payment_issue": {
        "open": ["I'm sorry about that. Could you tell me the amount and the date of the charge?"],
        "detail": ["I see it. The duplicate payment of {amount} has been reversed; it can take 3-5 days to show."],
    },
    "check_balance": {
        "open": ["After verifying your identity in the app, your balance is shown under Accounts. Which account?"],
        "detail": ["Your checking account balance is $2,418.50 as of this morning."],
    },
    "report_lost_card": {
        "open": ["I've frozen your card so nobody can use it. Would you like a replacement sent to your address?"],
        "detail": ["Thanks. The card is blocked and a new one will arrive within 5 working days."],
    },
    "transfer_money": {
        "open": ["You can send money under Payments > New transfer. Who is the recipient and how much?"],
        "detail": ["The transfer of {amount} to {person} is scheduled. You'll get a notification when it's sent."],
    },
    "dispute_charge": {
        "open": ["I'm sorry to hear that. Can you give me the amount and date of the transaction?"],
        "detail": ["I've opened a dispute for the {amount} charge. We'll get back to you within 10 days."],
    },
    "book_flight": {
        "open": ["Let me look. There are flights to {city2} on {date} from $189 — shall I book one?"],
        "detail": ["Great, I've reserved a seat; the booking reference is {booking_ref}."],
    },
    "change_booking": {
        "open": ["Sure. Could you give me your booking reference?"],
        "detail": ["Your booking {booking_ref} is now on {date}. The fare difference is $35."],
    },
    "hotel_reservation": {
        "open": ["I found three hotels in {city} with availability. Do you prefer central or near the airport?"],
        "detail": ["Booked! The confirmation has been sent to {email}."],
    },
    "baggage_issue": {
        "open": ["I'm sorry about your bag. Please give me your booking reference so I can file a report."],
        "detail": ["I've filed a baggage report for {booking_ref}; the airline will contact you within 24 hours."],
    },
    "speak_to_human": {"open": ["I'm transferring you to an agent now; the wait is about 5 minutes."]},
    "complaint": {"open": ["I'm really sorry for the trouble. Let me make this right — I've escalated your case."]},
    "thanks_goodbye": {"open": ["You're welcome! Have a great day.", "Glad I could help. Goodbye!"]},
}

MULTI_BOT = {
    ("cancel_order", "change_address"): "Order {order_id} had already shipped, so I've redirected it to {city}.",
    ("track_order", "complaint"): "I'm sorry for the wait. Order {order_id} is out for delivery and should arrive today.",
    ("return_item", "product_question"): "I've started the return for the {product}. And yes, the new model comes in black.",
    ("report_lost_card", "dispute_charge"): "Your card is blocked and I've opened a dispute for the {amount} charge.",
    ("book_flight", "hotel_reservation"): "I found a flight to {city2} on {date} and three hotels nearby. Shall I book both?",
    ("check_balance", "transfer_money"): "Your balance is $2,418.50, and yes — the {amount} transfer to {person} is set up.",
    ("change_booking", "baggage_issue"): "{booking_ref} is moved to {date} and a second bag is added for $40.",
}
