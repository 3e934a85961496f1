"""The ceiling: the least a FastAPI + async SQLAlchemy app can do per request on this machine.

One read by primary key (``GET /items/{id}``) or one insert (``POST /items``), one
transaction, JSON in and out, no authentication, no validation beyond pydantic's. Served
like Sportello (uvicorn, 2 workers) against the same PostgreSQL, its table as large as the
tickets', so ``bench/wrk_bench.py`` can express every Sportello figure as a ratio to it:

    SPORTELLO_DATABASE_URL=postgresql+asyncpg://... uvicorn bench.ceiling_app:app --workers 2
"""

from __future__ import annotations

import os
from datetime import datetime

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import DateTime, Integer, String, Text, func
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "ceiling_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ItemIn(BaseModel):
    customer_id: int
    subject: str
    description: str


class ItemOut(ItemIn):
    id: int


engine = create_async_engine(
    os.environ.get("SPORTELLO_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1/bench"),
    pool_size=10,
    max_overflow=10,
)
sessions = async_sessionmaker(engine, expire_on_commit=False)
app = FastAPI()


@app.get("/items/{item_id}")
async def read(item_id: int) -> ItemOut:
    async with sessions() as session:
        item = await session.get(Item, item_id)
        if item is None:
            raise HTTPException(404)
        return ItemOut(
            id=item.id,
            customer_id=item.customer_id,
            subject=item.subject,
            description=item.description,
        )


@app.post("/items", status_code=201)
async def create(body: ItemIn) -> ItemOut:
    async with sessions.begin() as session:
        item = Item(
            customer_id=body.customer_id, subject=body.subject, description=body.description
        )
        session.add(item)
        await session.flush()
        return ItemOut(id=item.id, **body.model_dump())
